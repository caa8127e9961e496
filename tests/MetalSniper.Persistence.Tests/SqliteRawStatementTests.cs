using Dapper;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Persistence.Tests;

/// <summary>The hot writers' statements through SQLite's C API store exactly what <see cref="SqliteCommand"/> stores.</summary>
public sealed class SqliteRawStatementTests : IDisposable
{
    private readonly SqliteConnection _c = new("Data Source=:memory:");

    public SqliteRawStatementTests()
    {
        _c.Open();
        _c.Execute("CREATE TABLE a(k INTEGER PRIMARY KEY, v ANY); CREATE TABLE b(k INTEGER PRIMARY KEY, v ANY);");
    }

    public void Dispose() => _c.Dispose();

    public static TheoryData<object> Values() =>
    [
        "plain text",
        "",
        "before\0after",
        "non-ASCII: äöü €, 𝄞 (a surrogate pair)",
        new string('x', 3_000) + "ü",
        42L,
        -7,
        long.MaxValue,
        3.25,
        DBNull.Value,
    ];

    [Theory]
    [MemberData(nameof(Values))]
    public void Run_StoresTheValueAndTheTypeTheCommandPathStores(object value)
    {
        using var command = _c.CreateCommand();
        command.CommandText = "INSERT INTO a(k, v) VALUES ($1, $2)";
        command.Parameters.Add(new SqliteParameter("$1", 1L));
        command.Parameters.Add(new SqliteParameter("$2", value));
        command.ExecuteNonQuery();
        using var statement = new SqliteRawStatement(_c, "INSERT INTO b(k, v) VALUES ($1, $2)", 2);

        statement.Run(1L, value).ShouldBe(1);

        var expected = _c.QuerySingle<(string Type, byte[]? Bytes)>("SELECT typeof(v), CAST(v AS BLOB) FROM a");
        var actual = _c.QuerySingle<(string Type, byte[]? Bytes)>("SELECT typeof(v), CAST(v AS BLOB) FROM b");
        actual.Type.ShouldBe(expected.Type);
        actual.Bytes.ShouldBe(expected.Bytes);
    }

    [Fact]
    public void Run_ReusesTheStatement_ParametersByName_InTheConnectionsTransaction_AndCountsChanges()
    {
        using var statement = new SqliteRawStatement(_c, "INSERT OR IGNORE INTO b(v, k) VALUES ($2 || '/' || $2, $1)", 2);
        using (var tx = _c.BeginTransaction())
        {
            statement.Run(1L, "one").ShouldBe(1);
            statement.Run(2L, "two").ShouldBe(1);
            statement.Run(2L, "again").ShouldBe(0, "ignored: nothing changed");
            tx.Rollback();
        }

        _c.ExecuteScalar<long>("SELECT COUNT(*) FROM b").ShouldBe(0, "the rows were in the rolled-back transaction");
        statement.Run(3L, "three");
        _c.QuerySingle<string>("SELECT v FROM b WHERE k = 3").ShouldBe("three/three");
    }

    [Fact]
    public void Run_RefusesWhatTheCommandPathWouldNotStoreTheSameWay_AndReportsSqliteErrorsAsSqliteExceptions()
    {
        using var strict = new SqliteRawStatement(_c, "INSERT INTO b(k, v) VALUES ($1, $2)", 2);
        using var lenient = new SqliteRawStatement(_c, "INSERT INTO b(k, v) VALUES ($1, $2)", 2, nullIsNull: true);

        Should.Throw<InvalidOperationException>(() => strict.Run(1L, null)).Message.ShouldContain("$2 has no value");
        Should.Throw<InvalidOperationException>(() => strict.Run(1L, 1.5m)).Message.ShouldContain("Decimal");
        Should.Throw<InvalidOperationException>(() => strict.Run(1L)).Message.ShouldContain("2 parameters, 1 values");
        lenient.Run(1L, null).ShouldBe(1);
        _c.ExecuteScalar<string>("SELECT typeof(v) FROM b WHERE k = 1").ShouldBe("null");
        Should.Throw<SqliteException>(() => strict.Run(1L, "duplicate key")).SqliteErrorCode.ShouldBe(19); // SQLITE_CONSTRAINT
        strict.Run(2L, "after the error").ShouldBe(1, "the statement is reset after a failure");
        Should.Throw<InvalidOperationException>(() => new SqliteRawStatement(_c, "INSERT INTO b(k, v) VALUES ($1, $3)", 2)).Message.ShouldContain("$2");
    }
}
