using System.Globalization;
using System.Text;

namespace MetalSniper.InteractiveBrokers.Wire;

/// <summary>Why a frame's content could not be decoded (TWS-PROTOCOL.md §1.3, §11).</summary>
public enum TwsDecodeErrorKind
{
    /// <summary>The payload is empty.</summary>
    EmptyFrame,

    /// <summary>The payload does not end with a NUL byte.</summary>
    MissingTerminator,

    /// <summary>Field 0 is not a decimal message id.</summary>
    BadMessageId,

    /// <summary>The message ended before all its fields were read.</summary>
    TooFewFields,

    /// <summary>A numeric or boolean field could not be parsed.</summary>
    BadNumber,

    /// <summary>Fields were left over after the layout was read completely (the layout did not match).</summary>
    TrailingFields,

    /// <summary>A count field is negative or impossibly large, or a conditional block has an unknown shape.</summary>
    BadStructure,

    /// <summary>An unexpected exception inside the decoder (a bug); the stream still continues with the next frame.</summary>
    InternalFault,
}

/// <summary>
/// Thrown by <see cref="TwsFieldCursor"/> when a frame's content does not fit the expected layout. Caught per frame by
/// <see cref="TwsMessageDecoder"/> and turned into a <see cref="DecodeErrorEvent"/>; the frame boundary protects the stream.
/// </summary>
public sealed class TwsDecodeException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="kind">The kind of failure.</param>
    /// <param name="fieldIndex">Zero-based index of the offending field (or the field count when fields ran out).</param>
    /// <param name="message">What was expected and what was seen.</param>
    public TwsDecodeException(TwsDecodeErrorKind kind, int fieldIndex, string message)
        : base(message)
    {
        Kind = kind;
        FieldIndex = fieldIndex;
    }

    /// <summary>The kind of failure.</summary>
    public TwsDecodeErrorKind Kind { get; }

    /// <summary>Zero-based index of the offending field.</summary>
    public int FieldIndex { get; }
}

/// <summary>
/// A tolerant forward cursor over the NUL-terminated fields of one frame payload (TWS-PROTOCOL.md §1.3, §11).
/// Parsing rules: <c>""</c> → 0 / false for int, long, double, decimal and bool; the <c>…OrUnset</c> readers map
/// <c>""</c> and the max sentinels (<c>2147483647</c>, <c>9223372036854775807</c>, <c>-9223372036854775808</c>,
/// <c>1.7976931348623157E308</c>) to null; <c>Infinity</c> parses as +∞. Running out of fields or an unparsable
/// number throws <see cref="TwsDecodeException"/>. No allocation except for string fields.
/// </summary>
public ref struct TwsFieldCursor
{
    private readonly ReadOnlySpan<byte> _payload;
    private int _offset;
    private int _index;

    /// <summary>Creates a cursor over a frame payload (without its length prefix).</summary>
    /// <param name="payload">The payload; must end with a NUL byte.</param>
    /// <exception cref="TwsDecodeException">The payload is empty or does not end with NUL.</exception>
    public TwsFieldCursor(ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty)
        {
            throw new TwsDecodeException(TwsDecodeErrorKind.EmptyFrame, 0, "frame payload is empty");
        }

        if (payload[^1] != 0)
        {
            throw new TwsDecodeException(TwsDecodeErrorKind.MissingTerminator, payload.Count((byte)0), "frame payload does not end with a NUL byte");
        }

        _payload = payload;
        _offset = 0;
        _index = 0;
    }

    /// <summary>Zero-based index of the next field to read (= number of fields consumed so far).</summary>
    public readonly int FieldIndex => _index;

    /// <summary>True when every field has been consumed.</summary>
    public readonly bool IsAtEnd => _offset >= _payload.Length;

    /// <summary>Number of fields not yet consumed.</summary>
    public readonly int RemainingFields => _offset >= _payload.Length ? 0 : _payload[_offset..].Count((byte)0);

    /// <summary>Reads the next field's raw bytes.</summary>
    /// <returns>The field bytes without the NUL.</returns>
    /// <exception cref="TwsDecodeException">No field left.</exception>
    public ReadOnlySpan<byte> ReadRaw()
    {
        if (_offset >= _payload.Length)
        {
            throw new TwsDecodeException(TwsDecodeErrorKind.TooFewFields, _index, $"message ended after {_index} fields, expected more");
        }

        var rest = _payload[_offset..];
        var nul = rest.IndexOf((byte)0);
        _offset += nul + 1;
        _index++;
        return rest[..nul];
    }

    /// <summary>Skips <paramref name="count"/> fields.</summary>
    /// <param name="count">Number of fields.</param>
    /// <exception cref="TwsDecodeException">Fewer fields left.</exception>
    public void Skip(int count)
    {
        for (var i = 0; i < count; i++)
        {
            ReadRaw();
        }
    }

    /// <summary>Reads a string field (UTF-8; empty → <c>""</c>).</summary>
    /// <returns>The text.</returns>
    /// <exception cref="TwsDecodeException">No field left.</exception>
    public string ReadString()
    {
        var raw = ReadRaw();
        return raw.IsEmpty ? "" : Encoding.UTF8.GetString(raw);
    }

    /// <summary>Reads a string field and un-escapes <c>\uXXXX</c> sequences (server ≥ 153 ENCODE_MSG_ASCII7: error text, longName).</summary>
    /// <returns>The text.</returns>
    /// <exception cref="TwsDecodeException">No field left.</exception>
    public string ReadEscapedString() => UnescapeUnicode(ReadString());

    /// <summary>Reads an int; <c>""</c> → 0.</summary>
    /// <returns>The value.</returns>
    /// <exception cref="TwsDecodeException">No field left or not an integer.</exception>
    public int ReadInt()
    {
        var raw = ReadRaw();
        if (raw.IsEmpty)
        {
            return 0;
        }

        if (int.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
        {
            return v;
        }

        throw Bad(raw, "an integer");
    }

    /// <summary>Reads an int where <c>""</c> and <c>2147483647</c> mean unset.</summary>
    /// <returns>The value or null.</returns>
    /// <exception cref="TwsDecodeException">No field left or not an integer.</exception>
    public int? ReadIntOrUnset()
    {
        var raw = ReadRaw();
        if (raw.IsEmpty)
        {
            return null;
        }

        if (int.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
        {
            return v == int.MaxValue ? null : v;
        }

        throw Bad(raw, "an integer");
    }

    /// <summary>Reads a long (e.g. permId); <c>""</c> → 0.</summary>
    /// <returns>The value.</returns>
    /// <exception cref="TwsDecodeException">No field left or not an integer.</exception>
    public long ReadLong()
    {
        var raw = ReadRaw();
        if (raw.IsEmpty)
        {
            return 0;
        }

        if (long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
        {
            return v;
        }

        throw Bad(raw, "a long integer");
    }

    /// <summary>Reads a boolean: <c>""</c>/<c>0</c> → false, any other integer → true; <c>true</c>/<c>false</c> accepted.</summary>
    /// <returns>The value.</returns>
    /// <exception cref="TwsDecodeException">No field left or not a boolean.</exception>
    public bool ReadBool()
    {
        var raw = ReadRaw();
        if (raw.IsEmpty)
        {
            return false;
        }

        if (raw.Length == 1)
        {
            if (raw[0] == (byte)'0')
            {
                return false;
            }

            if (raw[0] == (byte)'1')
            {
                return true;
            }
        }

        if (long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
        {
            return v != 0;
        }

        if (Ascii.EqualsIgnoreCase(raw, "true"u8))
        {
            return true;
        }

        if (Ascii.EqualsIgnoreCase(raw, "false"u8))
        {
            return false;
        }

        throw Bad(raw, "a boolean");
    }

    /// <summary>Reads a double; <c>""</c> → 0; the max sentinel is returned as <see cref="double.MaxValue"/>.</summary>
    /// <returns>The value.</returns>
    /// <exception cref="TwsDecodeException">No field left or not a number.</exception>
    public double ReadDouble()
    {
        var raw = ReadRaw();
        return raw.IsEmpty ? 0 : ParseDouble(raw);
    }

    /// <summary>Reads a double where <c>""</c> and <c>1.7976931348623157E308</c> mean unset; <c>Infinity</c> → +∞.</summary>
    /// <returns>The value or null.</returns>
    /// <exception cref="TwsDecodeException">No field left or not a number.</exception>
    public double? ReadDoubleOrUnset()
    {
        var raw = ReadRaw();
        if (raw.IsEmpty)
        {
            return null;
        }

        var v = ParseDouble(raw);
        return v == double.MaxValue ? null : v;
    }

    /// <summary>Reads a decimal (quantities, sizes); <c>""</c> → 0.</summary>
    /// <returns>The value.</returns>
    /// <exception cref="TwsDecodeException">No field left, not a number, or an unset sentinel where a value is required.</exception>
    public decimal ReadDecimal()
    {
        var index = _index;
        var raw = ReadRaw();
        if (raw.IsEmpty)
        {
            return 0m;
        }

        return ParseDecimal(raw) ?? throw new TwsDecodeException(TwsDecodeErrorKind.BadNumber, index,
            $"field {index}: \"{Printable(raw)}\" is an unset sentinel where a decimal is required");
    }

    /// <summary>
    /// Reads a decimal where <c>""</c>, <c>2147483647</c>, <c>9223372036854775807</c>, <c>-9223372036854775808</c> and
    /// <c>1.7976931348623157E308</c> (or anything else too large for a decimal) mean unset.
    /// </summary>
    /// <returns>The value or null.</returns>
    /// <exception cref="TwsDecodeException">No field left or not a number.</exception>
    public decimal? ReadDecimalOrUnset()
    {
        var raw = ReadRaw();
        return raw.IsEmpty ? null : ParseDecimal(raw);
    }

    /// <summary>Reads a count field (of a repeated block) and checks it is in 0..<paramref name="max"/>.</summary>
    /// <param name="max">Largest plausible count.</param>
    /// <returns>The count.</returns>
    /// <exception cref="TwsDecodeException">No field left, not a number, or out of range.</exception>
    public int ReadCount(int max)
    {
        var index = _index;
        var n = ReadInt();
        if (n < 0 || n > max || n > RemainingFields)
        {
            throw new TwsDecodeException(TwsDecodeErrorKind.BadStructure, index, $"field {index}: count {n} is out of range 0..{Math.Min(max, RemainingFields)}");
        }

        return n;
    }

    /// <summary>Un-escapes <c>\uXXXX</c> sequences (TWS ≥ 153 escapes non-ASCII text that way); other text is returned unchanged.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The un-escaped text.</returns>
    public static string UnescapeUnicode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var at = text.IndexOf("\\u", StringComparison.Ordinal);
        if (at < 0)
        {
            return text;
        }

        var sb = new StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            if (text[i] == '\\' && i + 5 < text.Length && text[i + 1] == 'u'
                && ushort.TryParse(text.AsSpan(i + 2, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
            {
                sb.Append((char)code);
                i += 6;
            }
            else
            {
                sb.Append(text[i]);
                i++;
            }
        }

        return sb.ToString();
    }

    private readonly double ParseDouble(ReadOnlySpan<byte> raw)
    {
        if (double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
        {
            return v;
        }

        throw Bad(raw, "a number");
    }

    private readonly decimal? ParseDecimal(ReadOnlySpan<byte> raw)
    {
        if (raw.SequenceEqual("2147483647"u8) || raw.SequenceEqual("9223372036854775807"u8) || raw.SequenceEqual("-9223372036854775808"u8))
        {
            return null;
        }

        if (decimal.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
        {
            return d;
        }

        // Too large for a decimal (1.7976931348623157E308, Infinity): TWS's "unset".
        if (double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && (double.IsInfinity(v) || Math.Abs(v) > 7.9e28))
        {
            return null;
        }

        throw Bad(raw, "a decimal");
    }

    private readonly TwsDecodeException Bad(ReadOnlySpan<byte> raw, string expected)
    {
        var index = _index - 1;
        return new TwsDecodeException(TwsDecodeErrorKind.BadNumber, index, $"field {index}: \"{Printable(raw)}\" is not {expected}");
    }

    private static string Printable(ReadOnlySpan<byte> raw)
    {
        var take = Math.Min(raw.Length, 40);
        var chars = new char[take];
        for (var i = 0; i < take; i++)
        {
            var b = raw[i];
            chars[i] = b is >= 0x20 and <= 0x7E ? (char)b : '?';
        }

        return raw.Length > take ? new string(chars) + "…" : new string(chars);
    }
}
