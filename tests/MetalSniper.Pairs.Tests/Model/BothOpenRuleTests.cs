using MetalSniper.Calendars;
using MetalSniper.Core.Instruments;
using MetalSniper.Pairs.Model;

namespace MetalSniper.Pairs.Tests.Model;

public sealed class BothOpenRuleTests
{
    private static readonly PairDefinition Anglo = new("anglo", "Anglo American plc",
        new Listing("AGL.JO", Venues.Jse, PriceUnit.SouthAfricanCents), new Listing("AAL.L", Venues.Lse, PriceUnit.Pence));

    private static readonly BothOpenRule Rule = new(new ExchangeCalendar());

    private static (PriceObservation A, PriceObservation B) At(string a, string b) =>
        (new PriceObservation("AGL.JO", 45_000m, PriceUnit.SouthAfricanCents, DateTimeOffset.Parse(a, System.Globalization.CultureInfo.InvariantCulture)),
         new PriceObservation("AAL.L", 1_900m, PriceUnit.Pence, DateTimeOffset.Parse(b, System.Globalization.CultureInfo.InvariantCulture)));

    [Fact]
    public void BothVenuesOpen_ObservedSecondsApart_AreComparable()
    {
        var (a, b) = At("2025-03-12T11:00:00Z", "2025-03-12T11:00:40Z");
        var v = Rule.Check(Anglo, a, b);
        v.Comparable.ShouldBeTrue(v.Reason);
        v.Gap.ShouldBe(TimeSpan.FromSeconds(40));
    }

    [Fact]
    public void BothVenuesOpen_ObservedTwoMinutesApart_AreNotComparable_WithBothTimes()
    {
        var (a, b) = At("2025-03-12T11:00:00Z", "2025-03-12T11:02:00Z");
        var v = Rule.Check(Anglo, a, b);
        v.Comparable.ShouldBeFalse();
        v.Reason.ShouldContain("120 s apart");
        (v.ObservedA, v.ObservedB).ShouldBe((a.ObservedUtc, b.ObservedUtc));
    }

    [Fact]
    public void TheirDailyCloses_AreNotComparable_BecauseJohannesburgIsClosedWhenLondonCloses()
    {
        // JSE closes 17:00 SAST (15:00 UTC); LSE closes 16:30 London (15:30 UTC in summer).
        var (a, b) = At("2025-06-11T14:59:59Z", "2025-06-11T15:29:59Z");
        var v = Rule.Check(Anglo, a, b);
        v.Comparable.ShouldBeFalse();
        v.Reason.ShouldContain("JSE was closed");
    }

    [Fact]
    public void ALondonBankHoliday_MakesEveryJohannesburgPriceIncomparable()
    {
        // Easter Monday 2025-04-21: LSE closed; the JSE is closed too (Family Day). 2025-05-05 (Early May bank holiday): LSE closed, JSE open.
        var (a, b) = At("2025-05-05T10:00:00Z", "2025-05-05T10:00:10Z");
        var v = Rule.Check(Anglo, a, b);
        v.Comparable.ShouldBeFalse();
        v.Reason.ShouldContain("LSE was closed");
    }

    [Fact]
    public void ObservationsOfAnotherPair_AreRefused()
    {
        var (_, b) = At("2025-03-12T11:00:00Z", "2025-03-12T11:00:10Z");
        var wrong = new PriceObservation("BTI.JO", 50_000m, PriceUnit.SouthAfricanCents, b.ObservedUtc);
        Should.Throw<ArgumentException>(() => Rule.Check(Anglo, wrong, b)).Message.ShouldContain("not of pair anglo");
    }

    [Fact]
    public void Tolerance_IsConfigurable()
    {
        var (a, b) = At("2025-03-12T11:00:00Z", "2025-03-12T11:04:00Z");
        new BothOpenRule(new ExchangeCalendar(), TimeSpan.FromMinutes(5)).Check(Anglo, a, b).Comparable.ShouldBeTrue();
    }
}
