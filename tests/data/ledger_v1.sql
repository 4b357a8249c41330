-- A version-1 polymm ledger, written by the v1 code itself (polymm 9be915e, ledger.py
-- SCHEMA_VERSION 1) and dumped with sqlite3's iterdump: two accounts' runs (local and
-- polymarket), fills with and without a run, statuses, flows, market metadata.
BEGIN TRANSACTION;
CREATE TABLE fill_status (
    seq      INTEGER PRIMARY KEY,
    trade_id TEXT    NOT NULL,
    order_id TEXT    NOT NULL,
    status   TEXT    NOT NULL CHECK (status IN ('MATCHED', 'MINED', 'CONFIRMED', 'RETRYING', 'FAILED')),
    ts       REAL    NOT NULL,
    UNIQUE (trade_id, order_id, status),
    FOREIGN KEY (trade_id, order_id) REFERENCES fills (trade_id, order_id)
);
INSERT INTO "fill_status" VALUES(1,'t-1','0xo1','MINED',1700000021.0);
INSERT INTO "fill_status" VALUES(2,'t-1','0xo1','CONFIRMED',1700000022.0);
INSERT INTO "fill_status" VALUES(3,'t-2','0xo2','FAILED',1700000035.0);
CREATE TABLE fills (
    seq         INTEGER PRIMARY KEY,
    trade_id    TEXT    NOT NULL CHECK (trade_id != ''),
    order_id    TEXT    NOT NULL CHECK (order_id != ''),
    market      TEXT    NOT NULL CHECK (market != ''),
    token_id    TEXT    NOT NULL CHECK (token_id != ''),
    side        TEXT    NOT NULL CHECK (side IN ('BUY', 'SELL')),
    price_micro INTEGER NOT NULL CHECK (price_micro > 0 AND price_micro < 1000000),
    size_micro  INTEGER NOT NULL CHECK (size_micro > 0),
    fee_micro   INTEGER NOT NULL CHECK (fee_micro >= 0),
    liquidity   TEXT    NOT NULL CHECK (liquidity IN ('MAKER', 'TAKER')),
    venue_ts    REAL    NOT NULL,
    recv_ts     REAL    NOT NULL,
    first_status TEXT   NOT NULL
                 CHECK (first_status IN ('MATCHED', 'MINED', 'CONFIRMED', 'RETRYING', 'FAILED')),
    run_id      TEXT    REFERENCES runs (run_id),
    UNIQUE (trade_id, order_id)
);
INSERT INTO "fills" VALUES(1,'t-1','0xo1','0x7c9d91150284e5820738b9a89128c5d1bb64e97e5ca9490179994964bc44f8a3','70904658348382458856087585103137684930006574427672506830195284124917542196696','BUY',480000,10000000,0,'MAKER',1700000020.0,1700000020.25,'MATCHED','run-local');
INSERT INTO "fills" VALUES(2,'t-2','0xo2','0x7c9d91150284e5820738b9a89128c5d1bb64e97e5ca9490179994964bc44f8a3','110819085414741558813860256301262489973363131085645732068287310475856947443991','BUY',520000,5000000,0,'MAKER',1700000030.0,1700000030.25,'MATCHED','run-local');
INSERT INTO "fills" VALUES(3,'t-3','0xo3','0x7c9d91150284e5820738b9a89128c5d1bb64e97e5ca9490179994964bc44f8a3','70904658348382458856087585103137684930006574427672506830195284124917542196696','SELL',550000,4000000,12300,'TAKER',1700000040.0,1700000040.25,'MATCHED','run-local');
INSERT INTO "fills" VALUES(4,'t-9','0xo9','0x7c9d91150284e5820738b9a89128c5d1bb64e97e5ca9490179994964bc44f8a3','70904658348382458856087585103137684930006574427672506830195284124917542196696','BUY',470000,6000000,0,'MAKER',1700000110.0,1700000110.25,'CONFIRMED','run-real');
INSERT INTO "fills" VALUES(5,'t-4','0xo4','0x7c9d91150284e5820738b9a89128c5d1bb64e97e5ca9490179994964bc44f8a3','70904658348382458856087585103137684930006574427672506830195284124917542196696','SELL',500000,6000000,0,'TAKER',1700000200.0,1700000200.25,'MATCHED',NULL);
CREATE TABLE flows (
    seq              INTEGER PRIMARY KEY,
    flow_id          TEXT    NOT NULL UNIQUE CHECK (flow_id != ''),
    kind             TEXT    NOT NULL
                     CHECK (kind IN ('deposit', 'withdraw', 'split', 'merge', 'redeem', 'fee', 'reward')),
    market           TEXT    NOT NULL,
    collateral_micro INTEGER NOT NULL,
    yes_micro        INTEGER NOT NULL,
    no_micro         INTEGER NOT NULL,
    ts               REAL    NOT NULL,
    note             TEXT    NOT NULL
);
INSERT INTO "flows" VALUES(1,'deposit:local','deposit','',1000000000,0,0,1700000000.0,'funding');
INSERT INTO "flows" VALUES(2,'split:0x7c9d91150284e5820738b9a89128c5d1bb64e97e5ca9490179994964bc44f8a3:1700000001.000000','split','0x7c9d91150284e5820738b9a89128c5d1bb64e97e5ca9490179994964bc44f8a3',-50000000,50000000,50000000,1700000001.0,'polymm seed');
INSERT INTO "flows" VALUES(3,'merge:0x7c9d91150284e5820738b9a89128c5d1bb64e97e5ca9490179994964bc44f8a3:1700000201.000000','merge','0x7c9d91150284e5820738b9a89128c5d1bb64e97e5ca9490179994964bc44f8a3',4000000,-4000000,-4000000,1700000201.0,'polymm liquidate');
CREATE TABLE market_meta (
    seq          INTEGER PRIMARY KEY,
    condition_id TEXT    NOT NULL CHECK (condition_id != ''),
    data         TEXT    NOT NULL,
    ts           REAL    NOT NULL,
    UNIQUE (condition_id, data)
);
INSERT INTO "market_meta" VALUES(1,'0x7c9d91150284e5820738b9a89128c5d1bb64e97e5ca9490179994964bc44f8a3','{"accepting_orders": true, "active": true, "category": "Economics", "closed": false, "condition_id": "0x7c9d91150284e5820738b9a89128c5d1bb64e97e5ca9490179994964bc44f8a3", "end_date": "2026-12-31T00:00:00Z", "fee_exponent": 1, "min_order_size": "5", "neg_risk": false, "neg_risk_market_id": "", "no_token": "110819085414741558813860256301262489973363131085645732068287310475856947443991", "question": "Will the Fed cut rates at its December 2026 meeting?", "rewards": {"daily_rate": "50", "max_spread_cents": "3.5", "min_size": "20"}, "slug": "fed-cut-rates-december-2026", "taker_fee_rate": "0.04", "tick_size": "0.01", "volume": "0", "yes_token": "70904658348382458856087585103137684930006574427672506830195284124917542196696"}',1700000000.0);
CREATE TABLE run_events (
    seq    INTEGER PRIMARY KEY,
    run_id TEXT    NOT NULL REFERENCES runs (run_id),
    kind   TEXT    NOT NULL CHECK (kind IN ('ended')),
    ts     REAL    NOT NULL,
    detail TEXT    NOT NULL
);
INSERT INTO "run_events" VALUES(1,'run-local','ended',1700000050.0,'duration');
CREATE TABLE runs (
    seq        INTEGER PRIMARY KEY,
    run_id     TEXT    NOT NULL UNIQUE,
    started_ts REAL    NOT NULL,
    venue      TEXT    NOT NULL,
    markets    TEXT    NOT NULL,
    address    TEXT    NOT NULL
);
INSERT INTO "runs" VALUES(1,'run-local',1700000010.0,'local','["0x7c9d91150284e5820738b9a89128c5d1bb64e97e5ca9490179994964bc44f8a3"]','0xAbCdEf0000000000000000000000000000000001');
INSERT INTO "runs" VALUES(2,'run-real',1700000100.0,'polymarket','["0x7c9d91150284e5820738b9a89128c5d1bb64e97e5ca9490179994964bc44f8a3"]','0x1234567890AbCdEf1234567890aBcDeF12345678');
CREATE TABLE schema_version (
    version INTEGER PRIMARY KEY
);
INSERT INTO "schema_version" VALUES(1);
CREATE UNIQUE INDEX run_events_one_end ON run_events (run_id) WHERE kind = 'ended';
CREATE INDEX flows_by_market ON flows (market, seq);
COMMIT;
