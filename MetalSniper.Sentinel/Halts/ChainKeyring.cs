using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace MetalSniper.Sentinel.Halts;

/// <summary>A chain key file could not be used (missing, readable by others, malformed). The message names the file and what to do; it never contains key material.</summary>
public sealed class ChainKeyException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The keys of the keyed (HMAC-SHA256) hash chains — the decision journal, the halts store and their anchor files. The keys
/// live outside the database, in a key file (a keyring): whoever can write the database but cannot read this file cannot
/// recompute a chain that verifies. Never logged: <see cref="ToString"/> names the file and the key ids only.
/// </summary>
/// <remarks>
/// <para>The file, one item a line (<c>#</c> starts a comment):</para>
/// <code>
/// keyed-since 2026-12-07T21:04:00.0000000Z
/// k1 3f9c…(64 hex digits, or base64; at least 32 bytes)
/// k2 …
/// </code>
/// <para>The <b>last</b> key signs new entries; the others only verify older ones (key rotation: add a line, restart; remove a
/// key only once every chain it signed is archived). <c>keyed-since</c> (optional): a plain SHA-256 entry written at or after
/// this time does not verify — so a chain rewritten entirely as plain SHA-256 (no key needed) is caught too, as long as its
/// times are left honest. Key ids: 1–16 of <c>A-Z a-z 0-9 _ -</c>.</para>
/// <para>The file must be readable by its owner only (mode 0600 or 0400): a file readable or writable by its group or by others is
/// refused (<see cref="ChainKeyException"/>).</para>
/// </remarks>
public sealed class ChainKeyring
{
    /// <summary>The prefix of a keyed hash: <c>hmac:&lt;key id&gt;:&lt;64 hex digits&gt;</c>. A hash without it is plain SHA-256 (64 hex digits, the chains before keys).</summary>
    public const string KeyedPrefix = "hmac:";

    /// <summary>Smallest key accepted, in bytes.</summary>
    public const int MinimumKeyBytes = 32;

    private readonly Dictionary<string, byte[]> _keys;

    // Keyed HMAC states ready for reuse, per key id: a one-shot HMACSHA256.HashData sets up a new OpenSSL MAC context (and
    // takes its locks) for every entry, which was about a third of the journal writer's hashing. A state is rented for one
    // MAC and returned reset, so concurrent signers (the journal's writer, the halts store) never share one.
    private readonly ConcurrentDictionary<string, ConcurrentBag<IncrementalHash>> _macs = new(StringComparer.Ordinal);

    private ChainKeyring(Dictionary<string, byte[]> keys, string signingKeyId, DateTimeOffset? keyedSince, string source)
    {
        _keys = keys;
        SigningKeyId = signingKeyId;
        KeyedSince = keyedSince;
        Source = source;
    }

    /// <summary>The id of the key that signs new entries (the file's last key).</summary>
    public string SigningKeyId { get; }

    /// <summary>Plain SHA-256 entries written at or after this time (UTC) do not verify; null: no such bound.</summary>
    public DateTimeOffset? KeyedSince { get; }

    /// <summary>Where the keys came from (the file's full path, or a description).</summary>
    public string Source { get; }

    /// <summary>Every key id, in file order.</summary>
    public IReadOnlyCollection<string> KeyIds => _keys.Keys;

    /// <summary>True when <paramref name="keyId"/> is in the keyring.</summary>
    public bool Has(string keyId) => _keys.ContainsKey(keyId);

    /// <summary>A keyring of one key (tests, tools).</summary>
    /// <param name="keyId">The key's id.</param>
    /// <param name="key">The key (at least <see cref="MinimumKeyBytes"/> bytes; copied).</param>
    /// <param name="keyedSince">See <see cref="KeyedSince"/>.</param>
    /// <exception cref="ChainKeyException">A bad id or a short key.</exception>
    public static ChainKeyring FromKey(string keyId, ReadOnlySpan<byte> key, DateTimeOffset? keyedSince = null)
    {
        CheckId(keyId, "the key id");
        if (key.Length < MinimumKeyBytes)
        {
            throw new ChainKeyException($"a chain key must have at least {MinimumKeyBytes} bytes (it has {key.Length})");
        }

        return new ChainKeyring(new Dictionary<string, byte[]>(StringComparer.Ordinal) { [keyId] = key.ToArray() }, keyId, keyedSince, $"key '{keyId}'");
    }

    /// <summary>Loads the keyring file at <paramref name="path"/>.</summary>
    /// <exception cref="ChainKeyException">The file is missing, readable or writable by its group or others (Unix), or malformed.</exception>
    public static ChainKeyring Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new ChainKeyException($"the chain key file {full} does not exist");
        }

        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(full);
            const UnixFileMode others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
            if ((mode & others) != 0)
            {
                throw new ChainKeyException(string.Create(CultureInfo.InvariantCulture,
                    $"the chain key file {full} is accessible to its group or to others (mode {Convert.ToString((int)mode, 8)}); it must be readable by its owner only: chmod 600 (or 400) {full}"));
            }
        }

        string[] lines;
        try
        {
            lines = File.ReadAllLines(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ChainKeyException($"the chain key file {full} cannot be read: {e.Message}", e);
        }

        var keys = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        string? last = null;
        DateTimeOffset? since = null;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            var where = string.Create(CultureInfo.InvariantCulture, $"{full} line {i + 1}");
            if (parts.Length != 2)
            {
                throw new ChainKeyException($"{where}: expected '<key id> <key>' or 'keyed-since <UTC time>'");
            }

            if (parts[0] == "keyed-since")
            {
                since = DateTimeOffset.TryParse(parts[1], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
                    ? t
                    : throw new ChainKeyException($"{where}: keyed-since is not a time (e.g. 2026-12-07T21:00:00Z)");
                continue;
            }

            CheckId(parts[0], where + ": the key id");
            var key = DecodeKey(parts[1]) ?? throw new ChainKeyException($"{where}: key '{parts[0]}' is neither hex nor base64");
            if (key.Length < MinimumKeyBytes)
            {
                throw new ChainKeyException(string.Create(CultureInfo.InvariantCulture, $"{where}: key '{parts[0]}' has {key.Length} bytes; at least {MinimumKeyBytes} are needed"));
            }

            if (!keys.TryAdd(parts[0], key))
            {
                throw new ChainKeyException($"{where}: key id '{parts[0]}' appears twice");
            }

            last = parts[0];
        }

        return last is null
            ? throw new ChainKeyException($"the chain key file {full} holds no key")
            : new ChainKeyring(keys, last, since, full);
    }

    /// <summary>
    /// Loads the keyring at <paramref name="path"/>, creating it first when there is none: one new random key <c>k1</c> (32 bytes)
    /// and <c>keyed-since</c> now, written with mode 0600 (never overwriting a file).
    /// </summary>
    /// <param name="path">The key file.</param>
    /// <param name="wallClock">The clock for <c>keyed-since</c>.</param>
    /// <exception cref="ChainKeyException">The existing file cannot be used (see <see cref="Load"/>), or the new one cannot be written.</exception>
    public static ChainKeyring LoadOrCreate(string path, TimeProvider wallClock)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(wallClock);
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            var text = "# MetalSniper chain keyring (HMAC-SHA256 of the journal and the halts store). Keep it secret, keep it out of backups of the database.\n"
                + "# '<key id> <key, hex>' a line; the last key signs, the others verify older entries.\n"
                + "keyed-since " + wallClock.GetUtcNow().UtcDateTime.ToString("O", CultureInfo.InvariantCulture) + "\n"
                + "k1 " + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)) + "\n";
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
                if (!OperatingSystem.IsWindows())
                {
                    options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                }

                using var f = new FileStream(full, options);
                f.Write(Encoding.ASCII.GetBytes(text));
                f.Flush(flushToDisk: true);
            }
            catch (IOException) when (File.Exists(full))
            {
                // Another process created it first: use theirs.
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ChainKeyException($"the chain key file {full} cannot be created: {e.Message}", e);
            }
        }

        return Load(full);
    }

    /// <summary>The keyed hash of <paramref name="content"/> with the signing key (or <paramref name="keyId"/>): <c>hmac:&lt;id&gt;:&lt;hex&gt;</c>.</summary>
    /// <exception cref="KeyNotFoundException"><paramref name="keyId"/> is not in the keyring.</exception>
    public string Sign(ReadOnlySpan<byte> content, string? keyId = null)
    {
        var id = keyId ?? SigningKeyId;
        if (!_keys.TryGetValue(id, out var key))
        {
            throw new KeyNotFoundException($"chain key '{id}' is not in the keyring {Source}");
        }

        Span<byte> mac = stackalloc byte[32];
        var ready = _macs.GetOrAdd(id, static _ => []);
        if (!ready.TryTake(out var hmac))
        {
            hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        }

        hmac.AppendData(content);
        hmac.GetHashAndReset(mac);
        ready.Add(hmac);
        return string.Concat(KeyedPrefix, id, ":", Convert.ToHexStringLower(mac));
    }

    /// <summary>True when <paramref name="hash"/> is a keyed hash (<c>hmac:…</c>).</summary>
    public static bool IsKeyed(string? hash) => hash is not null && hash.StartsWith(KeyedPrefix, StringComparison.Ordinal);

    /// <summary>The key id of a keyed hash (null for a plain one).</summary>
    public static string? KeyIdOf(string hash)
    {
        ArgumentNullException.ThrowIfNull(hash);
        if (!IsKeyed(hash))
        {
            return null;
        }

        var end = hash.IndexOf(':', KeyedPrefix.Length);
        return end > KeyedPrefix.Length ? hash[KeyedPrefix.Length..end] : "";
    }

    /// <summary>The hex digits of a hash, keyed or plain (what a person compares, and what confirmation codes are taken from).</summary>
    public static string DigestOf(string hash)
    {
        ArgumentNullException.ThrowIfNull(hash);
        var colon = hash.LastIndexOf(':');
        return colon < 0 ? hash : hash[(colon + 1)..];
    }

    /// <summary>
    /// The rules every record of a keyed-capable chain obeys besides its own hash, shared by the journal and the halts store:
    /// a plain record never follows a keyed one (a downgrade), a plain record is not newer than <see cref="KeyedSince"/>, and a
    /// keyed record can only be checked with its key.
    /// </summary>
    /// <param name="hash">The record's stored hash.</param>
    /// <param name="previousHash">The stored hash it links to.</param>
    /// <param name="writtenUtc">When it was written (wall clock).</param>
    /// <param name="keyring">The keys (null: none configured).</param>
    /// <param name="what">The record for the message ("entry 12", "record 4").</param>
    /// <returns>Null when the record may be checked; else what is wrong and whether the problem is a missing key.</returns>
    public static (string Problem, bool KeyMissing)? Admit(string hash, string previousHash, DateTimeOffset writtenUtc, ChainKeyring? keyring, string what)
    {
        ArgumentNullException.ThrowIfNull(hash);
        ArgumentNullException.ThrowIfNull(previousHash);
        if (IsKeyed(hash))
        {
            var id = KeyIdOf(hash)!;
            if (keyring is null)
            {
                return ($"{what} is keyed (HMAC-SHA256, key '{id}') and cannot be verified without the chain key", true);
            }

            return keyring.Has(id) ? null : ($"{what} is keyed with key '{id}', which is not in the keyring {keyring.Source}", true);
        }

        if (IsKeyed(previousHash))
        {
            return ($"{what} is plain SHA-256 after keyed entries (a downgrade: written without the chain key)", false);
        }

        if (keyring?.KeyedSince is { } since && writtenUtc >= since)
        {
            return ($"{what} is plain SHA-256 but was written at {writtenUtc.UtcDateTime:O}, after chain keys were in use (keyed-since {since.UtcDateTime:O}): written without the chain key", false);
        }

        return null;
    }

    /// <summary>Compares two hashes in constant time (a stored hash against a computed one).</summary>
    public static bool SameHash(string? a, string? b) =>
        a is not null && b is not null && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(a), Encoding.ASCII.GetBytes(b));

    /// <summary>Names the file and the key ids; never key material.</summary>
    public override string ToString() => $"chain keyring {Source} (keys {string.Join(", ", _keys.Keys)}; signing with '{SigningKeyId}')";

    private static void CheckId(string id, string what)
    {
        if (id.Length is < 1 or > 16 || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
        {
            // Not echoed: a line written the wrong way round would put the key itself into the message.
            throw new ChainKeyException($"{what} must be 1–16 characters of A-Z a-z 0-9 _ - (the line is '<key id> <key>')");
        }
    }

    private static byte[]? DecodeKey(string text)
    {
        if (text.Length % 2 == 0 && text.All(char.IsAsciiHexDigit))
        {
            return Convert.FromHexString(text);
        }

        var buffer = new byte[text.Length];
        return Convert.TryFromBase64String(text, buffer, out var n) ? buffer[..n] : null;
    }
}
