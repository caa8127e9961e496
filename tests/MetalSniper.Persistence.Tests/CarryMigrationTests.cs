using Dapper;
using MetalSniper.Core.Costs;
using MetalSniper.Core.Money;
using MetalSniper.Core.Positions;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetalSniper.Persistence.Tests;

/// <summary>Migration 7 on a real SQLite file: positions name their P&amp;L gross and carry their carry; carry charges have their own table.</summary>
public sealed class CarryMigrationTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ms-carry-");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Delete(true);
    }

    [Fact]
    public void Migration7_OnAVersion6Database_RenamesRealizedPnlToGross_KeepingItsValues_AndAddsCarry()
    {
        var path = Path.Combine(_dir.FullName, "v6.db");
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            // The tables migration 7 touches, as versions 1-6 left them.
            c.Open();
            c.Execute("""
                CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_utc TEXT NOT NULL);
                INSERT INTO schema_version VALUES (1,'',''),(2,'',''),(3,'',''),(4,'',''),(5,'',''),(6,'','');
                CREATE TABLE runs (run_id TEXT PRIMARY KEY, started_utc TEXT NOT NULL, ended_utc TEXT, mode TEXT NOT NULL, source TEXT NOT NULL, broker TEXT NOT NULL, exit_status TEXT);
                CREATE TABLE positions (run_id TEXT NOT NULL REFERENCES runs(run_id), symbol TEXT NOT NULL, currency TEXT NOT NULL, quantity TEXT NOT NULL,
                    average_price TEXT NOT NULL, realized_pnl TEXT NOT NULL, commissions TEXT NOT NULL, updated_utc TEXT NOT NULL, PRIMARY KEY (run_id, symbol));
                INSERT INTO runs VALUES ('r1','2025-01-01','2025-01-02','Replay','replay','simulated','ok');
                INSERT INTO positions VALUES ('r1','XAUUSD','USD','0','0','-123.45','67.89','2025-01-02');
                """);
        }

        var db = new Database(path, TimeProvider.System);

        db.SchemaVersion().ShouldBe(Database.LatestVersion);
        using var r = db.OpenConnection();
        r.QuerySingle<(string Gross, string Commissions, string Carry)>("SELECT realized_pnl_gross, commissions, carry FROM positions").ShouldBe(("-123.45", "67.89", "0"));
        r.ExecuteScalar<long>("SELECT COUNT(*) FROM pragma_table_info('positions') WHERE name='realized_pnl'").ShouldBe(0);
        r.ExecuteScalar<long>("SELECT COUNT(*) FROM carry_costs").ShouldBe(0);
    }

    [Fact]
    public async Task Writer_CarryChargeAndPosition_AreRecordedAsCharged_OncePerRunSymbolAndDay()
    {
        var db = new Database(Path.Combine(_dir.FullName, "w.db"), TimeProvider.System);
        var t = new DateTimeOffset(2025, 7, 1, 21, 0, 0, TimeSpan.Zero);
        var charge = new CarryCharge("XAUUSD", new DateOnly(2025, 7, 1), t, CarryKind.Borrow, -14m, 3300.5m, 46_207m, 0.05375m, 6.90m);
        await using (var w = new PersistenceWriter(db, 100, 100, NullLogger<PersistenceWriter>.Instance, e => throw e))
        {
            await w.EnqueueAsync(new PersistRunStarted("r1", t, "Replay", "replay", "simulated"), CancellationToken.None);
            await w.EnqueueAsync(new PersistCarryCost("r1", charge), CancellationToken.None);
            await w.EnqueueAsync(new PersistCarryCost("r1", charge), CancellationToken.None); // a re-executed run writes it again
            await w.EnqueueAsync(new PersistPosition("r1", new PositionSnapshot("XAUUSD", Currency.Usd, -14m, 3301m, 12.5m, 4.62m, t) { Carry = 6.90m }, t), CancellationToken.None);
            await w.FlushAsync(CancellationToken.None);
        }

        using var c = db.OpenConnection();
        c.Query<(string Symbol, string Day, string Kind, string Quantity, string Mark, string Notional, string Rate, string Amount)>(
                "SELECT symbol, day, kind, quantity, mark, notional_usd, rate_annual, amount_usd FROM carry_costs")
            .ShouldBe([("XAUUSD", "2025-07-01", "Borrow", "-14", "3300.5", "46207", "0.05375", "6.90")]);
        c.QuerySingle<(string Gross, string Commissions, string Carry)>("SELECT realized_pnl_gross, commissions, carry FROM positions").ShouldBe(("12.5", "4.62", "6.90"));
    }
}
