// Compiles the chain tests' stand-in contracts (tests/chain/contracts/*.sol) with the npm solc of
// `make anvil` and writes each one's ABI and RUNTIME bytecode (what anvil_setCode places) to
// tests/chain/contracts/build/<Name>.json. The output is committed: tests never compile.
// Run: make contracts   (or: node tests/chain/build_contracts.mjs)
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "..", "..", ".tools", "package.json"));
const solc = require("solc");
const sources = join(here, "contracts");
const out = join(sources, "build");

const input = {
  language: "Solidity",
  sources: Object.fromEntries(
    readdirSync(sources)
      .filter((f) => f.endsWith(".sol"))
      .map((f) => [f, { content: readFileSync(join(sources, f), "utf8") }]),
  ),
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.deployedBytecode.object"] } },
  },
};
const result = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (result.errors || []).filter((e) => e.severity === "error");
for (const e of result.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);
mkdirSync(out, { recursive: true });
for (const [file, contracts] of Object.entries(result.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    if (!c.evm.deployedBytecode.object) continue; // interfaces
    const artifact = { contractName: name, source: file, compiler: `solc ${solc.version()}`, abi: c.abi,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object };
    writeFileSync(join(out, `${name}.json`), JSON.stringify(artifact, null, 1) + "\n");
    console.log(`wrote ${join("tests/chain/contracts/build", name + ".json")}`);
  }
}
