using System.Globalization;
using Microsoft.Extensions.Logging;

namespace MetalSniper.FakeTws;

public sealed partial class FakeTwsServer
{
    private static readonly string[] AccountUpdateKeys =
    [
        "NetLiquidation", "TotalCashValue", "CashBalance", "SettledCash", "BuyingPower", "AvailableFunds", "ExcessLiquidity",
        "EquityWithLoanValue", "GrossPositionValue", "InitMarginReq", "MaintMarginReq", "RealizedPnL", "UnrealizedPnL",
    ];

    private readonly Dictionary<string, decimal> _cash = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Account, int ConId), PositionState> _positions = [];
    private readonly Dictionary<(string Account, string Tag), (string Value, string Currency)> _accountOverrides = [];

    /// <summary>Every position (zero quantities included once traded), by account and contract.</summary>
    public IReadOnlyList<FakePosition> Positions
    {
        get
        {
            lock (_gate)
            {
                return [.. _positions.Values.Select(p => new FakePosition(p.Account, p.Contract.Key, p.Contract.ConId, p.Quantity, p.AvgPrice, p.Realized))];
            }
        }
    }

    /// <summary>Cash of an account (initial cash − fills − commissions), in the base currency.</summary>
    /// <exception cref="ArgumentException">The account is not managed.</exception>
    public decimal GetCash(string account)
    {
        lock (_gate)
        {
            return _cash.TryGetValue(account, out var cash) ? cash : throw new ArgumentException($"unknown account '{account}'", nameof(account));
        }
    }

    /// <summary>Sets a position directly (e.g. one held before the test), and pushes it to position subscribers.</summary>
    /// <exception cref="ArgumentException">The account or symbol is unknown.</exception>
    public void SetPosition(string account, string symbol, decimal quantity, double avgPrice)
    {
        lock (_gate)
        {
            if (!_cash.ContainsKey(account))
            {
                throw new ArgumentException($"unknown account '{account}'", nameof(account));
            }

            var contract = MarketFor(symbol).Contract;
            var position = PositionFor(account, contract);
            position.Quantity = quantity;
            position.AvgPrice = avgPrice;
            PushPositionLocked(account, contract);
        }
    }

    /// <summary>Overrides one account summary / account update value (e.g. "NetLiquidation" = "50000.00" "USD").</summary>
    /// <exception cref="ArgumentException">The account is unknown.</exception>
    public void SetAccountValue(string account, string tag, string value, string? currency = null)
    {
        lock (_gate)
        {
            if (!_cash.ContainsKey(account))
            {
                throw new ArgumentException($"unknown account '{account}'", nameof(account));
            }

            _accountOverrides[(account, tag)] = (value, currency ?? Options.BaseCurrency);
        }
    }

    private PositionState PositionFor(string account, FakeContract contract)
    {
        if (!_positions.TryGetValue((account, contract.ConId), out var position))
        {
            position = new PositionState(account, contract);
            _positions[(account, contract.ConId)] = position;
        }

        return position;
    }

    /// <summary>Books a signed fill into the position (average price on adds, realized P&amp;L on reductions); returns the realized P&amp;L or null.</summary>
    private double? ApplyPositionLocked(string account, FakeContract contract, decimal signed, double price)
    {
        var p = PositionFor(account, contract);
        var before = p.Quantity;
        var after = before + signed;
        double? realized = null;
        if (before == 0 || Math.Sign(before) == Math.Sign(signed))
        {
            p.AvgPrice = (double)(((decimal)p.AvgPrice * Math.Abs(before) + (decimal)price * Math.Abs(signed)) / Math.Abs(after));
        }
        else
        {
            var closed = Math.Min(Math.Abs(signed), Math.Abs(before));
            realized = (price - p.AvgPrice) * (double)closed * Math.Sign(before) * contract.ValueMultiplier;
            p.Realized += realized.Value;
            if (Math.Abs(signed) > Math.Abs(before))
            {
                p.AvgPrice = price;
            }
            else if (after == 0)
            {
                p.AvgPrice = 0;
            }
        }

        p.Quantity = after;
        return realized;
    }

    private void PushPositionLocked(string account, FakeContract contract)
    {
        var p = PositionFor(account, contract);
        foreach (var session in ReadySessions)
        {
            if (session.PositionsSubscribed)
            {
                Send(session, Frames.Position(p));
            }

            if (session.AccountUpdatesAccount == account)
            {
                Send(session, Frames.UpdatePortfolio(p, MarkFor(contract, p)));
                SendAccountValues(session, account);
            }
        }
    }

    private void PushPortfolioValuesLocked(FakeContract contract)
    {
        foreach (var session in ReadySessions.Where(s => s.AccountUpdatesAccount is not null))
        {
            if (_positions.TryGetValue((session.AccountUpdatesAccount!, contract.ConId), out var p) && p.Quantity != 0)
            {
                Send(session, Frames.UpdatePortfolio(p, MarkFor(contract, p)));
            }
        }
    }

    private double MarkFor(FakeContract contract, PositionState p) => _markets[contract.Key].Mark ?? p.AvgPrice;

    private void HandleReqPositions(FakeTwsSession session)
    {
        session.PositionsSubscribed = true;
        foreach (var p in _positions.Values)
        {
            Send(session, Frames.Position(p));
        }

        Send(session, new FrameBuilder(62).Add(1));
    }

    private void HandleReqAccountSummary(FakeTwsSession session, RequestReader reader, int reqId)
    {
        var group = reader.String("group");
        var tags = reader.String("tags");
        if (session.AccountSummaries.Count >= 2 && !session.AccountSummaries.Contains(reqId))
        {
            SendErrorLocked(session, reqId, 322, "Error processing request:-'bd' : cause - Maximum number of account summary requests exceeded");
            return;
        }

        session.AccountSummaries.Add(reqId);
        var requested = tags.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        _logger.LogDebug("Fake TWS: account summary {ReqId} group {Group} tags {Tags}", reqId, group, tags);
        foreach (var account in Options.Accounts)
        {
            var values = AccountValues(account);
            foreach (var tag in requested)
            {
                if (values.TryGetValue(tag, out var value))
                {
                    Send(session, new FrameBuilder(63).Add(1).Add(reqId).Add(account).Add(tag).Add(value.Value).Add(value.Currency));
                }
            }
        }

        Send(session, new FrameBuilder(64).Add(1).Add(reqId));
    }

    private void HandleReqAccountUpdates(FakeTwsSession session, bool subscribe, string account)
    {
        if (!subscribe)
        {
            session.AccountUpdatesAccount = null;
            return;
        }

        if (account.Length == 0)
        {
            account = Options.Accounts[0];
        }

        if (!_cash.ContainsKey(account))
        {
            SendErrorLocked(session, -1, 321, $"Error validating request: account '{account}' is not a managed account");
            return;
        }

        session.AccountUpdatesAccount = account;
        SendAccountValues(session, account);
        foreach (var p in _positions.Values.Where(p => p.Account == account && p.Quantity != 0))
        {
            Send(session, Frames.UpdatePortfolio(p, MarkFor(p.Contract, p)));
        }

        Send(session, new FrameBuilder(8).Add(1).Add(TimeZoneInfo.ConvertTime(Now, _timeZone).ToString("HH:mm", CultureInfo.InvariantCulture)));
        Send(session, new FrameBuilder(54).Add(1).Add(account));
    }

    private void SendAccountValues(FakeTwsSession session, string account)
    {
        var values = AccountValues(account);
        Send(session, new FrameBuilder(6).Add(2).Add("AccountCode").Add(account).Add("").Add(account));
        Send(session, new FrameBuilder(6).Add(2).Add("AccountReady").Add("true").Add("").Add(account));
        Send(session, new FrameBuilder(6).Add(2).Add("AccountType").Add(values["AccountType"].Value).Add("").Add(account));
        foreach (var key in AccountUpdateKeys)
        {
            var (value, currency) = values[key];
            Send(session, new FrameBuilder(6).Add(2).Add(key).Add(value).Add(currency).Add(account));
        }
    }

    /// <summary>Account values from cash and positions marked at the current quotes, plus test overrides.</summary>
    private Dictionary<string, (string Value, string Currency)> AccountValues(string account)
    {
        var cash = _cash.GetValueOrDefault(account);
        decimal gross = 0, marketValue = 0, unrealized = 0, realized = 0;
        foreach (var p in _positions.Values.Where(p => p.Account == account))
        {
            var mark = (decimal)MarkFor(p.Contract, p);
            var multiplier = (decimal)p.Contract.ValueMultiplier;
            gross += Math.Abs(p.Quantity * mark * multiplier);
            marketValue += p.Quantity * mark * multiplier;
            unrealized += (mark - (decimal)p.AvgPrice) * p.Quantity * multiplier;
            realized += (decimal)p.Realized;
        }

        var netLiq = cash + marketValue;
        var init = gross * 0.10m;
        var maint = gross * 0.08m;
        var ccy = Options.BaseCurrency;
        string Money(decimal v) => v.ToString("0.00", CultureInfo.InvariantCulture);
        var values = new Dictionary<string, (string, string)>(StringComparer.Ordinal)
        {
            ["AccountType"] = ("INDIVIDUAL", ""),
            ["NetLiquidation"] = (Money(netLiq), ccy),
            ["TotalCashValue"] = (Money(cash), ccy),
            ["CashBalance"] = (Money(cash), ccy),
            ["SettledCash"] = (Money(cash), ccy),
            ["AccruedCash"] = (Money(0), ccy),
            ["BuyingPower"] = (Money((netLiq - init) * 4), ccy),
            ["EquityWithLoanValue"] = (Money(netLiq), ccy),
            ["PreviousDayEquityWithLoanValue"] = (Money(netLiq), ccy),
            ["GrossPositionValue"] = (Money(gross), ccy),
            ["ReqTEquity"] = (Money(netLiq), ccy),
            ["ReqTMargin"] = (Money(init), ccy),
            ["SMA"] = (Money(netLiq - init), ccy),
            ["InitMarginReq"] = (Money(init), ccy),
            ["MaintMarginReq"] = (Money(maint), ccy),
            ["AvailableFunds"] = (Money(netLiq - init), ccy),
            ["ExcessLiquidity"] = (Money(netLiq - maint), ccy),
            ["Cushion"] = (netLiq == 0 ? "0" : ((netLiq - maint) / netLiq).ToString("0.0000", CultureInfo.InvariantCulture), ""),
            ["FullInitMarginReq"] = (Money(init), ccy),
            ["FullMaintMarginReq"] = (Money(maint), ccy),
            ["FullAvailableFunds"] = (Money(netLiq - init), ccy),
            ["FullExcessLiquidity"] = (Money(netLiq - maint), ccy),
            ["LookAheadNextChange"] = ("0", ""),
            ["LookAheadInitMarginReq"] = (Money(init), ccy),
            ["LookAheadMaintMarginReq"] = (Money(maint), ccy),
            ["LookAheadAvailableFunds"] = (Money(netLiq - init), ccy),
            ["LookAheadExcessLiquidity"] = (Money(netLiq - maint), ccy),
            ["HighestSeverity"] = ("0", ""),
            ["DayTradesRemaining"] = ("-1", ""),
            ["Leverage"] = (netLiq == 0 ? "0" : (gross / netLiq).ToString("0.00", CultureInfo.InvariantCulture), ""),
            ["RealizedPnL"] = (Money(realized), ccy),
            ["UnrealizedPnL"] = (Money(unrealized), ccy),
        };
        foreach (var ((overrideAccount, tag), value) in _accountOverrides)
        {
            if (overrideAccount == account)
            {
                values[tag] = value;
            }
        }

        return values;
    }
}

/// <summary>A position inside the fake (guarded by the server lock).</summary>
internal sealed class PositionState(string account, FakeContract contract)
{
    public string Account { get; } = account;

    public FakeContract Contract { get; } = contract;

    public decimal Quantity { get; set; }

    public double AvgPrice { get; set; }

    public double Realized { get; set; }
}
