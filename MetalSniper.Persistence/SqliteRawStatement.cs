using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace MetalSniper.Persistence;

/// <summary>
/// One prepared statement of a hot writer (the journal's insert, the persistence writer's record inserts), run through
/// SQLite's C API on a Microsoft.Data.Sqlite connection: the same statement, the same values and the same transaction as
/// <see cref="SqliteCommand.ExecuteNonQuery"/>, without that path's per-execution garbage (a binder object per parameter, a
/// UTF-8 array per string, a data reader and its statement iterator per execution). Parameters are <c>$1</c>…<c>$n</c>,
/// found by name as Microsoft.Data.Sqlite finds them; values are bound as it binds them: <see cref="string"/> as text
/// (UTF-8), integers as 64-bit integers, <see cref="double"/> as a real, <see cref="DBNull"/> as NULL. A null value (unless
/// the statement is told it means NULL) or any other type is refused, so a value is never stored differently from the
/// command path.
/// Busy handling is Microsoft.Data.Sqlite's: a busy or locked step is retried every 150 ms for up to 30 s.
/// Not thread-safe: one writer thread owns it. Dispose it before its connection.
/// </summary>
internal sealed class SqliteRawStatement : IDisposable
{
    private static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(30);

    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _stmt;
    private readonly int[] _indexes;
    private readonly string _sql;
    private readonly bool _nullIsNull;
    private byte[] _utf8 = new byte[512];

    /// <summary>Prepares <paramref name="sql"/> on the open <paramref name="connection"/>.</summary>
    /// <param name="connection">An open connection.</param>
    /// <param name="sql">One statement with the parameters <c>$1</c>…<c>$<paramref name="parameters"/></c>.</param>
    /// <param name="parameters">How many parameters it has.</param>
    /// <param name="nullIsNull">A null value binds NULL (as <see cref="DBNull.Value"/>); false: a null value is refused, as Microsoft.Data.Sqlite refuses an unset parameter.</param>
    /// <exception cref="SqliteException">The statement does not prepare.</exception>
    /// <exception cref="InvalidOperationException">The connection is not open, or a parameter is missing from the statement.</exception>
    public SqliteRawStatement(SqliteConnection connection, string sql, int parameters, bool nullIsNull = false)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _db = connection.Handle ?? throw new InvalidOperationException("the connection is not open");
        _sql = sql;
        _nullIsNull = nullIsNull;
        SqliteException.ThrowExceptionForRC(raw.sqlite3_prepare_v2(_db, sql, out _stmt), _db);
        _indexes = new int[parameters];
        for (var i = 0; i < parameters; i++)
        {
            var name = "$" + (i + 1).ToString(CultureInfo.InvariantCulture);
            _indexes[i] = raw.sqlite3_bind_parameter_index(_stmt, name);
            if (_indexes[i] <= 0)
            {
                _stmt.Dispose();
                throw new InvalidOperationException($"parameter {name} is not in the statement: {sql}");
            }
        }
    }

    /// <summary>Binds <paramref name="values"/> to <c>$1</c>… and runs the statement (in the connection's transaction, if any).</summary>
    /// <returns>Rows changed (<c>sqlite3_changes</c>, as <see cref="SqliteCommand.ExecuteNonQuery"/> returns for one statement).</returns>
    /// <exception cref="InvalidOperationException">Fewer values than parameters, a null value, or a value of a type not bound here.</exception>
    /// <exception cref="SqliteException">SQLite refused the statement (a constraint, a full disk, busy for 30 s).</exception>
    public int Run(params ReadOnlySpan<object?> values)
    {
        if (values.Length < _indexes.Length)
        {
            throw new InvalidOperationException($"{_indexes.Length} parameters, {values.Length} values: {_sql}");
        }

        try
        {
            for (var i = 0; i < _indexes.Length; i++)
            {
                Bind(_indexes[i], values[i], i);
            }

            var rc = raw.sqlite3_step(_stmt);
            if (IsBusy(rc))
            {
                var waited = Stopwatch.StartNew();
                while (IsBusy(rc) && waited.Elapsed < BusyTimeout)
                {
                    raw.sqlite3_reset(_stmt);
                    Thread.Sleep(150);
                    rc = raw.sqlite3_step(_stmt);
                }
            }

            if (rc != raw.SQLITE_DONE && rc != raw.SQLITE_ROW)
            {
                SqliteException.ThrowExceptionForRC(rc, _db);
            }

            return raw.sqlite3_changes(_db);
        }
        finally
        {
            raw.sqlite3_reset(_stmt);
            raw.sqlite3_clear_bindings(_stmt);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _stmt.Dispose();

    private static bool IsBusy(int rc) => rc is raw.SQLITE_BUSY or raw.SQLITE_LOCKED or raw.SQLITE_LOCKED_SHAREDCACHE;

    private void Bind(int index, object? value, int position)
    {
        var rc = value switch
        {
            string { Length: 0 } empty => raw.sqlite3_bind_text(_stmt, index, empty), // a zero-length span would bind NULL, not ''
            string s => BindText(index, s),
            long l => raw.sqlite3_bind_int64(_stmt, index, l),
            int n => raw.sqlite3_bind_int64(_stmt, index, n),
            double d => raw.sqlite3_bind_double(_stmt, index, d),
            DBNull => raw.sqlite3_bind_null(_stmt, index),
            null when _nullIsNull => raw.sqlite3_bind_null(_stmt, index),
            null => throw new InvalidOperationException($"parameter ${position + 1} has no value (DBNull.Value for NULL): {_sql}"),
            _ => throw new InvalidOperationException($"parameter ${position + 1}: a {value.GetType().Name} is not bound here (text, integers, reals, DBNull): {_sql}"),
        };
        SqliteException.ThrowExceptionForRC(rc, _db);
    }

    private int BindText(int index, string s)
    {
        var max = Encoding.UTF8.GetMaxByteCount(s.Length);
        if (max > _utf8.Length)
        {
            _utf8 = new byte[Math.Max(max, _utf8.Length * 2)];
        }

        var n = Encoding.UTF8.GetBytes(s, _utf8);
        return raw.sqlite3_bind_text(_stmt, index, _utf8.AsSpan(0, n)); // SQLite copies it (SQLITE_TRANSIENT)
    }
}
