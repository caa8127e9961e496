using MetalSniper.Strategies.Metals;
using MetalSniper.Engine.Configuration;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Operator;

namespace MetalSniper.Host.Configuration;

/// <summary>
/// Validates the whole configuration before anything starts and reports every error at once:
/// unknown top-level sections, unknown keys inside known sections, values out of range,
/// cross-field rules and values that do not bind (a number where text was expected).
/// </summary>
public static class ConfigurationCheck
{

    /// <summary>Returns every configuration error (empty when valid).</summary>
    public static IReadOnlyList<string> Validate(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var errors = new List<string>();
        foreach (var section in configuration.GetChildren())
        {
            // A typo of a section name must not pass silently.
            if (!OptionSections.TopLevel.Contains(section.Key, StringComparer.OrdinalIgnoreCase))
            {
                errors.Add($"{section.Key}: unknown configuration section (known sections: {string.Join(", ", OptionSections.TopLevel)})");
            }
        }

        foreach (var child in configuration.GetSection("Strategies").GetChildren())
        {
            if (!string.Equals(child.Key, "Metals", StringComparison.OrdinalIgnoreCase) && !string.Equals(child.Key, "DualListing", StringComparison.OrdinalIgnoreCase))
            {
                errors.Add($"Strategies:{child.Key}: unknown strategy (known: Metals, DualListing)");
            }
        }

        OptionSections.Accept(new SectionCheck(configuration, errors));
        if (errors.Count == 0)
        {
            CrossSection(configuration, errors);
        }

        return errors;
    }

    /// <summary>Rules that span sections: every traded symbol is known, priced by the broker and fed by the data source.</summary>
    private static void CrossSection(IConfiguration configuration, List<string> errors)
    {
        var catalog = Core.Instruments.InstrumentCatalog.CreateDefault();
        var metals = configuration.GetSection(MetalsStrategyOptions.SectionName).Get<MetalsStrategyOptions>() ?? new MetalsStrategyOptions();
        var market = configuration.GetSection(MarketDataOptions.SectionName).Get<MarketDataOptions>() ?? new MarketDataOptions();
        var broker = configuration.GetSection(SimulatedBrokerOptions.SectionName).Get<SimulatedBrokerOptions>() ?? new SimulatedBrokerOptions();
        var risk = configuration.GetSection(RiskOptions.SectionName).Get<RiskOptions>() ?? new RiskOptions();
        var account = configuration.GetSection(AccountOptions.SectionName).Get<AccountOptions>() ?? new AccountOptions();
        var dual = new Pairs.Backtest.DualListingOptions();
        configuration.GetSection(Pairs.Backtest.DualListingOptions.SectionName).Bind(dual);
        try
        {
            dual.Validate();
        }
        catch (ArgumentException e)
        {
            errors.Add($"{Pairs.Backtest.DualListingOptions.SectionName}: {e.Message}");
        }

        var dualStrategy = configuration.GetSection(Strategies.DualListing.DualListingStrategyOptions.SectionName).Get<Strategies.DualListing.DualListingStrategyOptions>() ?? new();
        if (dualStrategy.Enabled)
        {
            var section = Strategies.DualListing.DualListingStrategyOptions.SectionName;
            var legs = dual.Pairs.Where(p => p.Value.Enabled).SelectMany(p => new[] { (p.Key, p.Value.A.Symbol), (p.Key, p.Value.B.Symbol) });
            foreach (var (pair, symbol) in legs)
            {
                if (!catalog.TryGet(symbol, out var instrument))
                {
                    errors.Add($"DualListing:Pairs:{pair}: '{symbol}' is not a known instrument");
                    continue;
                }

                if (!configuration.GetSection($"{SimulatedBrokerOptions.SectionName}:Costs:{symbol}").Exists())
                {
                    errors.Add($"{section}: the leg '{symbol}' of pair {pair} has no cost model in {SimulatedBrokerOptions.SectionName}:Costs (exit costs could not be estimated)");
                }

                var converter = new Core.Money.FxConverter(account.CreateFxRateTable());
                if (!converter.TryConvert(new Core.Money.Money(1m, instrument.Currency), new Core.Money.Currency(account.BaseCurrency), out _))
                {
                    errors.Add($"{AccountOptions.SectionName}:FxRates: the leg '{symbol}' of pair {pair} trades in {instrument.Currency} and no rate converts it to {account.BaseCurrency}");
                }
            }

            foreach (var pairName in dualStrategy.FxSymbols.Where(f => !catalog.TryGet(f, out var i) || i.SecurityType != Core.Instruments.SecurityType.Forex))
            {
                errors.Add($"{section}:FxSymbols: '{pairName}' is not a currency pair of the instrument catalog");
            }
        }

        var brokerKind = configuration.GetSection(BrokerOptions.SectionName).Get<BrokerOptions>() ?? new BrokerOptions();
        var execution = configuration.GetSection(ExecutionOptions.SectionName).Get<ExecutionOptions>() ?? new ExecutionOptions();
        BrokerAndDataAgree(brokerKind, market, execution.Mode, errors);

        // The symbols that get bars: the replayed files, or the live source's streamed symbols.
        var liveData = market.Source == "InteractiveBrokers";
        var fed = new HashSet<string>(liveData ? market.InteractiveBrokers.EffectiveSymbols : market.Replay.Files.Select(f => f.Symbol), StringComparer.OrdinalIgnoreCase);
        var fedBy = liveData ? $"{MarketDataOptions.SectionName}:InteractiveBrokers:Symbols" : $"{MarketDataOptions.SectionName}:Replay:Files";
        var priced = new HashSet<string>(broker.Costs.Keys, StringComparer.OrdinalIgnoreCase);
        foreach (var f in market.Replay.Files.Where(f => !catalog.TryGet(f.Symbol, out _)))
        {
            errors.Add($"MarketData:Replay:Files: symbol '{f.Symbol}' is not a known instrument");
        }

        if (metals.Enabled)
        {
            foreach (var symbol in metals.Symbols)
            {
                if (!catalog.TryGet(symbol, out _))
                {
                    errors.Add($"{MetalsStrategyOptions.SectionName}:Symbols: '{symbol}' is not a known instrument");
                    continue;
                }

                if (!priced.Contains(symbol))
                {
                    errors.Add($"{MetalsStrategyOptions.SectionName}:Symbols: '{symbol}' has no cost model in {SimulatedBrokerOptions.SectionName}:Costs (its orders could not be priced)");
                }

                if (!fed.Contains(symbol))
                {
                    errors.Add($"{MetalsStrategyOptions.SectionName}:Symbols: '{symbol}' has no market data in {fedBy} (it would never trade)");
                }
            }
        }

        // Staleness is judged per symbol against max(StaleDataAfter, 2 × that symbol's last bar interval) of open market time
        // (the sentinel), so a daily stock bar is never stale between two closes and StaleDataAfter needs no bar-length check;
        // it only has to be ≥ 0 (0 = off), which its binding ensures. The quote-age gate has one limit for every symbol: a
        // decision on a bar that just arrived sees a quote as old as 0 (the bar's close), but an intraday instrument traded
        // on another instrument's bar sees its own last bar's close, up to one interval old: MaxQuoteAge must be longer than
        // the longest INTRADAY interval (daily files are left out: their orders are decided on their own bar's arrival and
        // sent for the next open).
        if (market.Source == "Replay" && market.Replay.Files.Any(f => !f.Daily))
        {
            var longest = market.Replay.Files.Where(f => !f.Daily).MaxBy(f => f.IntervalMinutes)!;
            var interval = TimeSpan.FromMinutes(longest.IntervalMinutes);
            if (risk.Gates.MaxQuoteAge <= interval)
            {
                errors.Add($"{RiskOptions.SectionName}:Gates:MaxQuoteAge: {risk.Gates.MaxQuoteAge} is not longer than the {interval} bars of {longest.Path} (the longest intraday interval; daily files are not counted): orders would be refused for a quote one bar old (use more than {interval}, e.g. {interval * 2})");
            }
        }

        try
        {
            TimeZoneInfo.FindSystemTimeZoneById(risk.TradingDayTimeZone);
        }
        catch (TimeZoneNotFoundException)
        {
            errors.Add($"{RiskOptions.SectionName}:TradingDayTimeZone: '{risk.TradingDayTimeZone}' is not a time zone this machine knows (use an IANA id such as America/New_York)");
        }

        if (execution.Mode == Core.Orders.ExecutionMode.Live && brokerKind.Kind == "Simulated")
        {
            errors.Add($"{ExecutionOptions.SectionName}:Mode: Live needs a live broker; {BrokerOptions.SectionName}:Kind is Simulated (paper only)");
        }

        foreach (var symbol in risk.Gates.MaxPositionQuantity.Keys.Concat(risk.Gates.MaxOrderQuantity.Keys).Where(s => !catalog.TryGet(s, out _)))
        {
            errors.Add($"{RiskOptions.SectionName}:Gates: '{symbol}' is not a known instrument");
        }

        foreach (var leg in risk.Breakers.Pairs.SelectMany(p => p.Split('/')).Where(s => !catalog.TryGet(s.Trim(), out _)))
        {
            errors.Add($"{RiskOptions.SectionName}:Breakers:Pairs: '{leg}' is not a known instrument");
        }

        // Every traded instrument's currency must convert to the base currency with the configured rates: an amount that
        // cannot be converted would leave the P&L unknown (entries halted) from the first fill on, so it is refused here.
        // (Cross-section rules run only on sections that validated: the base currency and every rate are well formed.)
        var fx = new Core.Money.FxConverter(account.CreateFxRateTable());
        var baseCurrency = new Core.Money.Currency(account.BaseCurrency);
        foreach (var symbol in fed.Where(s => catalog.TryGet(s, out _)).Order(StringComparer.Ordinal))
        {
            var currency = catalog.Get(symbol).Currency;
            if (!fx.TryConvert(new Core.Money.Money(1m, currency), baseCurrency, out _))
            {
                errors.Add($"{AccountOptions.SectionName}:BaseCurrency: {symbol} trades in {currency} and no rate in {AccountOptions.SectionName}:FxRates converts {currency} to {account.BaseCurrency}");
            }
        }
    }

    /// <summary>
    /// A real broker trades on market data from that same broker, in every execution mode: replayed history driving a
    /// real (even a paper) account would send orders priced from years-old bars, gated by quotes that are not the
    /// market's. And the live source exists only through the broker's session. Shadow mode is exactly the other
    /// combination: the broker's live data with the simulated broker (no order ever reaches the broker).
    /// </summary>
    private static void BrokerAndDataAgree(BrokerOptions broker, MarketDataOptions market, Core.Orders.ExecutionMode mode, List<string> errors)
    {
        if (mode == Core.Orders.ExecutionMode.Shadow)
        {
            if (broker.Kind != "Simulated" || market.Source != "InteractiveBrokers")
            {
                errors.Add($"{ExecutionOptions.SectionName}:Mode is Shadow but {BrokerOptions.SectionName}:Kind is {broker.Kind} and {MarketDataOptions.SectionName}:Source is {market.Source}: "
                    + $"shadow mode runs on the broker's live data with the simulated broker, never sending an order to the broker (set {BrokerOptions.SectionName}:Kind to Simulated "
                    + $"and {MarketDataOptions.SectionName}:Source to InteractiveBrokers; the connection comes from {BrokerOptions.SectionName}:InteractiveBrokers)");
            }

            return;
        }

        if (broker.Kind == "InteractiveBrokers" && market.Source != "InteractiveBrokers")
        {
            errors.Add($"{BrokerOptions.SectionName}:Kind is InteractiveBrokers but {MarketDataOptions.SectionName}:Source is {market.Source}: a real broker must trade on "
                + $"market data from that same broker (set {MarketDataOptions.SectionName}:Source to InteractiveBrokers), never on replayed history "
                + $"(replay against {BrokerOptions.SectionName}:Kind Simulated)");
        }
        else if (market.Source == "InteractiveBrokers" && broker.Kind != "InteractiveBrokers")
        {
            errors.Add($"{MarketDataOptions.SectionName}:Source is InteractiveBrokers but {BrokerOptions.SectionName}:Kind is {broker.Kind}: live Interactive Brokers "
                + $"data comes through the broker's session (set {BrokerOptions.SectionName}:Kind to InteractiveBrokers, or {MarketDataOptions.SectionName}:Source to Replay; "
                + $"or {ExecutionOptions.SectionName}:Mode to Shadow to rehearse on live data with the simulated broker)");
        }
    }

    private sealed class SectionCheck(IConfiguration configuration, List<string> errors) : IOptionSectionVisitor
    {
        public void Visit<T>(string sectionName)
            where T : class, new() => Check<T>(configuration, sectionName, errors);
    }

    private static void Check<T>(IConfiguration configuration, string sectionName, List<string> errors)
        where T : class, new()
    {
        var section = configuration.GetSection(sectionName);
        // Every value that cannot become its property's type is an error of its own (the binder stops at the first and hides
        // the rest); the section is then bound without them, so its other rules are still checked and reported together.
        var typeErrors = OptionsChecks.TypeErrors(section, typeof(T), sectionName);
        errors.AddRange(typeErrors.Select(t => t.Error));
        IConfiguration bindFrom = section;
        if (typeErrors.Count > 0)
        {
            var bad = typeErrors.Select(t => t.Path).ToHashSet(StringComparer.OrdinalIgnoreCase);
            bindFrom = new ConfigurationBuilder()
                .AddInMemoryCollection(section.AsEnumerable().Where(kv => kv.Value is not null && !bad.Contains(kv.Key)))
                .Build().GetSection(sectionName);
        }

        var options = new T();
        try
        {
            bindFrom.Bind(options);
        }
        catch (InvalidOperationException e)
        {
            errors.Add($"{sectionName}: {e.Message}{(e.InnerException is { } inner ? " (" + inner.Message + ")" : "")}");
            return;
        }

        errors.AddRange(OptionsChecks.Check(section, options, sectionName).Where(e => typeErrors.Count == 0 || !typeErrors.Any(t => e.StartsWith(t.Path + ":", StringComparison.OrdinalIgnoreCase))));
    }
}
