// SPDX-License-Identifier: MIT
// A test stand-in for Polymarket's pUSD collateral adapters (CtfCollateralAdapter and, placed at the
// second address, NegRiskCtfCollateralAdapter): the CTF's splitPosition / mergePositions /
// redeemPositions ABI, taking and paying pUSD.
//
// What the real adapters do, in the simplest honest shape: pUSD is backed by USDC.e and positions
// are USDC.e positions, so the adapter takes the caller's pUSD, "unwraps" it (here: keeps the pUSD
// as the backing and mints the same amount of the USDC.e stand-in), calls the real Gnosis CTF with
// USDC.e as the collateral (so the position ids are the ones Polymarket trades), and hands the
// position tokens to the caller. Merge and redeem are the reverse: the caller's positions come in
// (the caller must have called CTF.setApprovalForAll(adapter, true)), the USDC.e that the CTF pays
// out is burnt and the same amount of pUSD goes back to the caller.
// The neg-risk stand-in behaves the same (the real one goes through the NegRiskAdapter's wrapped
// collateral; the calls and approvals a wallet makes are the same).
// No constructor state: Anvil places the runtime code with anvil_setCode.
pragma solidity ^0.8.20;

interface IStandInToken {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function approve(address spender, uint256 amount) external returns (bool);
    function balanceOf(address who) external view returns (uint256);
    function mint(address to, uint256 amount) external;
    function burn(uint256 amount) external;
}

interface IConditionalTokens {
    function splitPosition(address collateralToken, bytes32 parentCollectionId, bytes32 conditionId, uint256[] calldata partition, uint256 amount) external;
    function mergePositions(address collateralToken, bytes32 parentCollectionId, bytes32 conditionId, uint256[] calldata partition, uint256 amount) external;
    function redeemPositions(address collateralToken, bytes32 parentCollectionId, bytes32 conditionId, uint256[] calldata indexSets) external;
    function getCollectionId(bytes32 parentCollectionId, bytes32 conditionId, uint256 indexSet) external view returns (bytes32);
    function getPositionId(address collateralToken, bytes32 collectionId) external pure returns (uint256);
    function balanceOf(address owner, uint256 id) external view returns (uint256);
    function safeBatchTransferFrom(address from, address to, uint256[] calldata ids, uint256[] calldata values, bytes calldata data) external;
}

contract StandInCollateralAdapter {
    address public constant CTF = 0x4D97DCd97eC945f40cF65F87097ACe5EA0476045;
    address public constant PUSD = 0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB;
    address public constant USDCE = 0x2791Bca1f2de4661ED88A30C99A7a9449Aa84174;

    event PositionSplit(address indexed stakeholder, bytes32 indexed conditionId, uint256 amount);
    event PositionsMerge(address indexed stakeholder, bytes32 indexed conditionId, uint256 amount);
    event PayoutRedemption(address indexed redeemer, bytes32 indexed conditionId, uint256 payout);

    function splitPosition(address collateralToken, bytes32, bytes32 conditionId, uint256[] calldata, uint256 amount) external {
        require(collateralToken == PUSD, "adapter: collateral must be pUSD");
        require(IStandInToken(PUSD).transferFrom(msg.sender, address(this), amount), "adapter: pUSD transfer failed");
        IStandInToken(USDCE).mint(address(this), amount);
        IStandInToken(USDCE).approve(CTF, amount);
        IConditionalTokens(CTF).splitPosition(USDCE, bytes32(0), conditionId, _binary(), amount);
        IConditionalTokens(CTF).safeBatchTransferFrom(address(this), msg.sender, _positions(conditionId), _pair(amount, amount), "");
        emit PositionSplit(msg.sender, conditionId, amount);
    }

    function mergePositions(address collateralToken, bytes32, bytes32 conditionId, uint256[] calldata, uint256 amount) external {
        require(collateralToken == PUSD, "adapter: collateral must be pUSD");
        IConditionalTokens(CTF).safeBatchTransferFrom(msg.sender, address(this), _positions(conditionId), _pair(amount, amount), "");
        IConditionalTokens(CTF).mergePositions(USDCE, bytes32(0), conditionId, _binary(), amount);
        IStandInToken(USDCE).burn(amount);
        require(IStandInToken(PUSD).transfer(msg.sender, amount), "adapter: pUSD transfer failed");
        emit PositionsMerge(msg.sender, conditionId, amount);
    }

    function redeemPositions(address collateralToken, bytes32, bytes32 conditionId, uint256[] calldata) external {
        require(collateralToken == PUSD, "adapter: collateral must be pUSD");
        uint256[] memory ids = _positions(conditionId);
        uint256[] memory held = _pair(
            IConditionalTokens(CTF).balanceOf(msg.sender, ids[0]), IConditionalTokens(CTF).balanceOf(msg.sender, ids[1])
        );
        IConditionalTokens(CTF).safeBatchTransferFrom(msg.sender, address(this), ids, held, "");
        uint256 before = IStandInToken(USDCE).balanceOf(address(this));
        IConditionalTokens(CTF).redeemPositions(USDCE, bytes32(0), conditionId, _binary());
        uint256 payout = IStandInToken(USDCE).balanceOf(address(this)) - before;
        IStandInToken(USDCE).burn(payout);
        require(IStandInToken(PUSD).transfer(msg.sender, payout), "adapter: pUSD transfer failed");
        emit PayoutRedemption(msg.sender, conditionId, payout);
    }

    function onERC1155Received(address, address, uint256, uint256, bytes calldata) external pure returns (bytes4) {
        return this.onERC1155Received.selector;
    }

    function onERC1155BatchReceived(address, address, uint256[] calldata, uint256[] calldata, bytes calldata) external pure returns (bytes4) {
        return this.onERC1155BatchReceived.selector;
    }

    function _binary() private pure returns (uint256[] memory partition) {
        partition = _pair(1, 2);
    }

    function _pair(uint256 a, uint256 b) private pure returns (uint256[] memory values) {
        values = new uint256[](2);
        values[0] = a;
        values[1] = b;
    }

    function _positions(bytes32 conditionId) private view returns (uint256[] memory ids) {
        IConditionalTokens ctf = IConditionalTokens(CTF);
        ids = _pair(
            ctf.getPositionId(USDCE, ctf.getCollectionId(bytes32(0), conditionId, 1)),
            ctf.getPositionId(USDCE, ctf.getCollectionId(bytes32(0), conditionId, 2))
        );
    }
}
