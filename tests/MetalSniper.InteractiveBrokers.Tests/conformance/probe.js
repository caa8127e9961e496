"use strict";
// Conformance probe (TWS-PROTOCOL.md §9.3): drives the independent client @stoqey/ib 1.6.10 against the fake TWS
// and prints one JSON line per decoded event on stdout. Steps are sequenced on received events, never on sleeps:
//   currentTime → contractDetails → marketData (waits for the quote the test pushes) → LMT that rests → modify → MKT that fills
//   → cancel the LMT → executions → positions → account summary → open orders → historical data → disconnect.
// Usage: node probe.js <port> [clientId]
// Exit code 0 after a clean run, 2 on the overall timeout, 3 on a bad argument.

const { IBApi, EventName } = require("@stoqey/ib");

const port = Number.parseInt(process.argv[2], 10);
const clientId = Number.parseInt(process.argv[3] ?? "7", 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write(`usage: node probe.js <port> [clientId]; port was '${process.argv[2]}'\n`);
  process.exit(3);
}

const REQ = { contract: 1001, mktData: 1002, executions: 1003, summary: 1004, history: 1005 };
const LMT_FIRST = 2300.25;
const LMT_MODIFIED = 2310.5;
const XAUUSD = { symbol: "XAUUSD", secType: "CMDTY", exchange: "SMART", currency: "USD" };

function out(event, data) {
  process.stdout.write(JSON.stringify({ event, ...data }) + "\n");
}

const ib = new IBApi({ host: "127.0.0.1", port, clientId });
const state = {
  baseId: undefined,
  step: "connecting",
  bid: undefined,
  ask: undefined,
  lmtPlaced: false,
  modified: false,
  mktPlaced: false,
  cancelled: false,
  finished: false,
};

function step(name, action) {
  state.step = name;
  out("step", { name });
  action();
}

const timeout = setTimeout(() => {
  out("timeout", { step: state.step });
  ib.disconnect();
  process.exit(2);
}, 20000);

function finish() {
  if (state.finished) {
    return;
  }
  state.finished = true;
  step("disconnect", () => ib.disconnect());
  clearTimeout(timeout);
  // Let the socket close, then leave.
  setTimeout(() => process.exit(0), 200);
}

function lmtOrder(price) {
  return {
    action: "BUY",
    totalQuantity: 1,
    orderType: "LMT",
    lmtPrice: price,
    tif: "GTC",
    orderRef: "probe-lmt",
    transmit: true,
  };
}

ib.on(EventName.sent, (tokens) => out("sent", { tokens: tokens.map((t) => (t === undefined || t === null ? "" : String(t))) }));
ib.on(EventName.received, (tokens) => out("received", { tokens }));
ib.on(EventName.connected, () => out("connected", {}));
ib.on(EventName.disconnected, () => out("disconnected", {}));
ib.on(EventName.server, (version, connectionTime) => out("server", { version, connectionTime }));
ib.on(EventName.info, (message, code) => out("info", { message, code }));
ib.on(EventName.error, (error, code, reqId) => out("error", { message: error?.message ?? String(error), code, reqId }));
ib.on(EventName.managedAccounts, (accounts) => out("managedAccounts", { accounts }));

ib.on(EventName.nextValidId, (orderId) => {
  out("nextValidId", { orderId });
  if (state.baseId === undefined) {
    state.baseId = orderId;
    step("reqCurrentTime", () => ib.reqCurrentTime());
  }
});

ib.on(EventName.currentTime, (time) => {
  out("currentTime", { time });
  if (state.step === "reqCurrentTime") {
    step("reqContractDetails", () => ib.reqContractDetails(REQ.contract, XAUUSD));
  }
});

ib.on(EventName.contractDetails, (reqId, details) =>
  out("contractDetails", {
    reqId,
    conId: details.contract.conId,
    symbol: details.contract.symbol,
    secType: details.contract.secType,
    exchange: details.contract.exchange,
    currency: details.contract.currency,
    localSymbol: details.contract.localSymbol,
    minTick: details.minTick,
    longName: details.longName,
    validExchanges: details.validExchanges,
    timeZoneId: details.timeZoneId,
    minSize: details.minSize,
    sizeIncrement: details.sizeIncrement,
  }),
);

ib.on(EventName.contractDetailsEnd, (reqId) => {
  out("contractDetailsEnd", { reqId });
  if (reqId === REQ.contract) {
    step("reqMktData", () => ib.reqMktData(REQ.mktData, XAUUSD, "", false, false));
  }
});

ib.on(EventName.tickReqParams, (reqId, minTick, bboExchange, snapshotPermissions) =>
  out("tickReqParams", { reqId, minTick, bboExchange, snapshotPermissions }),
);
ib.on(EventName.marketDataType, (reqId, marketDataType) => out("marketDataType", { reqId, marketDataType }));
ib.on(EventName.tickSize, (reqId, field, value) => out("tickSize", { reqId, field, value }));
ib.on(EventName.tickPrice, (reqId, field, value) => {
  out("tickPrice", { reqId, field, value });
  if (reqId !== REQ.mktData) {
    return;
  }
  if (field === 1) state.bid = value;
  if (field === 2) state.ask = value;
  // Wait for a two-sided quote with a spread: the quote the test pushes after seeing reqMktData (bars give bid == ask).
  if (!state.lmtPlaced && state.bid !== undefined && state.ask !== undefined && state.ask > state.bid) {
    state.lmtPlaced = true;
    step("placeLmt", () => ib.placeOrder(state.baseId, XAUUSD, lmtOrder(LMT_FIRST)));
  }
});

ib.on(EventName.openOrder, (orderId, contract, order, orderState) => {
  out("openOrder", {
    orderId,
    conId: contract.conId,
    symbol: contract.symbol,
    action: order.action,
    totalQuantity: order.totalQuantity,
    orderType: order.orderType,
    lmtPrice: order.lmtPrice,
    auxPrice: order.auxPrice,
    tif: order.tif,
    orderRef: order.orderRef,
    permId: order.permId,
    clientId: order.clientId,
    account: order.account,
    status: orderState.status,
  });
  if (orderId === state.baseId && state.modified && !state.mktPlaced && order.lmtPrice === LMT_MODIFIED) {
    state.mktPlaced = true;
    step("placeMkt", () =>
      ib.placeOrder(state.baseId + 1, XAUUSD, {
        action: "BUY",
        totalQuantity: 2,
        orderType: "MKT",
        tif: "DAY",
        orderRef: "probe-mkt",
        transmit: true,
      }),
    );
  }
});

ib.on(EventName.orderStatus, (orderId, status, filled, remaining, avgFillPrice, permId, parentId, lastFillPrice, clientIdOfOrder) => {
  out("orderStatus", { orderId, status, filled, remaining, avgFillPrice, permId, parentId, lastFillPrice, clientId: clientIdOfOrder });
  if (orderId === state.baseId && status === "Submitted" && !state.modified) {
    state.modified = true;
    step("modifyLmt", () => ib.placeOrder(state.baseId, XAUUSD, lmtOrder(LMT_MODIFIED)));
  }
  if (orderId === state.baseId + 1 && status === "Filled" && !state.cancelled) {
    state.cancelled = true;
    step("cancelLmt", () => ib.cancelOrder(state.baseId));
  }
  if (orderId === state.baseId && status === "Cancelled" && state.step === "cancelLmt") {
    step("reqExecutions", () => ib.reqExecutions(REQ.executions, {}));
  }
});

ib.on(EventName.execDetails, (reqId, contract, execution) =>
  out("execDetails", {
    reqId,
    conId: contract.conId,
    symbol: contract.symbol,
    orderId: execution.orderId,
    execId: execution.execId,
    time: execution.time,
    acctNumber: execution.acctNumber,
    side: execution.side,
    shares: execution.shares,
    price: execution.price,
    permId: execution.permId,
    clientId: execution.clientId,
    cumQty: execution.cumQty,
    avgPrice: execution.avgPrice,
    orderRef: execution.orderRef,
  }),
);

ib.on(EventName.execDetailsEnd, (reqId) => {
  out("execDetailsEnd", { reqId });
  if (reqId === REQ.executions) {
    step("reqPositions", () => ib.reqPositions());
  }
});

ib.on(EventName.commissionReport, (report) =>
  out("commissionReport", {
    execId: report.execId,
    commission: report.commission,
    currency: report.currency,
    realizedPNL: report.realizedPNL ?? null,
  }),
);

ib.on(EventName.position, (account, contract, pos, avgCost) =>
  out("position", { account, conId: contract.conId, symbol: contract.symbol, secType: contract.secType, pos, avgCost }),
);

ib.on(EventName.positionEnd, () => {
  out("positionEnd", {});
  if (state.step === "reqPositions") {
    ib.cancelPositions();
    step("reqAccountSummary", () => ib.reqAccountSummary(REQ.summary, "All", "NetLiquidation,TotalCashValue,BuyingPower"));
  }
});

ib.on(EventName.accountSummary, (reqId, account, tag, value, currency) => out("accountSummary", { reqId, account, tag, value, currency }));

ib.on(EventName.accountSummaryEnd, (reqId) => {
  out("accountSummaryEnd", { reqId });
  if (reqId === REQ.summary) {
    ib.cancelAccountSummary(REQ.summary);
    step("reqOpenOrders", () => ib.reqOpenOrders());
  }
});

ib.on(EventName.openOrderEnd, () => {
  out("openOrderEnd", {});
  if (state.step === "reqOpenOrders") {
    ib.cancelMktData(REQ.mktData);
    step("reqHistoricalData", () => ib.reqHistoricalData(REQ.history, XAUUSD, "", "1 D", "1 hour", "MIDPOINT", 1, 1, false));
  }
});

ib.on(EventName.historicalData, (reqId, time, open, high, low, close, volume, count, wap) => {
  if (typeof time === "string" && time.startsWith("finished")) {
    out("historicalDataEnd", { reqId, marker: time });
    if (reqId === REQ.history) {
      finish();
    }
    return;
  }
  out("historicalData", { reqId, time, open, high, low, close, volume, count, wap });
});

out("start", { port, clientId });
ib.connect();
