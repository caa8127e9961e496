using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace MetalSniper.FakeTws;

/// <summary>
/// Text formatting of outgoing fields, written independently of the client's codec
/// (TWS-PROTOCOL.md §1.1–§1.3). Every number uses <see cref="CultureInfo.InvariantCulture"/>.
/// </summary>
internal static class TwsText
{
    /// <summary>Java's <c>Double.MAX_VALUE</c> as TWS writes it for an unset double (§1.3).</summary>
    public const string UnsetDouble = "1.7976931348623157E308";

    /// <summary>The unset int sentinel (§1.3).</summary>
    public const string UnsetInt = "2147483647";

    public static string Double(double value)
    {
        if (double.IsNaN(value) || double.IsInfinity(value) || value >= double.MaxValue)
        {
            return UnsetDouble;
        }

        var text = value.ToString("R", CultureInfo.InvariantCulture);
        if (text.Contains('E', StringComparison.Ordinal))
        {
            text = value.ToString("0.###############", CultureInfo.InvariantCulture);
        }

        return text;
    }

    public static string Decimal(decimal value) => value.ToString("0.##########", CultureInfo.InvariantCulture);

    public static string Int(long value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Builds one framed server → client message: 4-byte big-endian length, then NUL-terminated fields (§1.1).</summary>
internal sealed class FrameBuilder
{
    private readonly List<string> _fields = new(48);

    public FrameBuilder(int messageId) => _fields.Add(TwsText.Int(messageId));

    private FrameBuilder() { }

    /// <summary>A frame without a message id (the handshake's version reply, §2.1 step 3).</summary>
    public static FrameBuilder Raw() => new();

    public IReadOnlyList<string> Fields => _fields;

    public FrameBuilder Add(string? value)
    {
        _fields.Add(value ?? string.Empty);
        return this;
    }

    public FrameBuilder Add(int value) => Add(TwsText.Int(value));

    public FrameBuilder Add(long value) => Add(TwsText.Int(value));

    public FrameBuilder Add(bool value) => Add(value ? "1" : "0");

    public FrameBuilder Add(double value) => Add(TwsText.Double(value));

    /// <summary>A double that may be unset; unset is written as <see cref="TwsText.UnsetDouble"/>.</summary>
    public FrameBuilder AddMax(double? value) => Add(value is { } v ? TwsText.Double(v) : TwsText.UnsetDouble);

    public FrameBuilder Add(decimal value) => Add(TwsText.Decimal(value));

    public FrameBuilder AddMany(int count, string value)
    {
        for (var i = 0; i < count; i++)
        {
            _fields.Add(value);
        }

        return this;
    }

    public byte[] ToFrame() => Encode(_fields);

    /// <summary>Encodes fields as one length-prefixed frame.</summary>
    public static byte[] Encode(IReadOnlyList<string> fields)
    {
        var payloadLength = 0;
        foreach (var field in fields)
        {
            payloadLength += Encoding.UTF8.GetByteCount(field) + 1;
        }

        var frame = new byte[4 + payloadLength];
        BinaryPrimitives.WriteInt32BigEndian(frame, payloadLength);
        var offset = 4;
        foreach (var field in fields)
        {
            offset += Encoding.UTF8.GetBytes(field, 0, field.Length, frame, offset);
            frame[offset++] = 0;
        }

        return frame;
    }

    /// <summary>Splits a payload on NUL; the trailing NUL ends the last field (§1.1).</summary>
    public static string[] SplitPayload(ReadOnlySpan<byte> payload)
    {
        var fields = new List<string>(32);
        var start = 0;
        for (var i = 0; i < payload.Length; i++)
        {
            if (payload[i] == 0)
            {
                fields.Add(Encoding.UTF8.GetString(payload[start..i]));
                start = i + 1;
            }
        }

        if (start < payload.Length)
        {
            // No terminating NUL: keep the tail as a last field rather than dropping it.
            fields.Add(Encoding.UTF8.GetString(payload[start..]));
        }

        return [.. fields];
    }
}

/// <summary>A request the fake cannot read: answered with error 320 (reading) or 321 (validating), like TWS (§5).</summary>
internal sealed class TwsRequestException(int code, string message) : Exception(message)
{
    public int Code { get; } = code;
}

/// <summary>
/// A cursor over the fields of one client request, read by position (§4.1). Empty numeric fields read as
/// the default, as TWS accepts them (§1.2, §9.4).
/// </summary>
internal sealed class RequestReader(IReadOnlyList<string> fields, int start)
{
    private int _index = start;

    public int Index => _index;

    public int Remaining => fields.Count - _index;

    public string String(string name)
    {
        if (_index >= fields.Count)
        {
            throw new TwsRequestException(320, $"Error reading request: field '{name}' (index {_index}) is missing; the request has {fields.Count} fields");
        }

        return fields[_index++];
    }

    public void Skip(int count, string name)
    {
        for (var i = 0; i < count; i++)
        {
            String(name);
        }
    }

    public int Int(string name)
    {
        var text = String(name);
        if (text.Length == 0)
        {
            return 0;
        }

        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        throw Invalid(name, text);
    }

    public long Long(string name)
    {
        var text = String(name);
        if (text.Length == 0)
        {
            return 0;
        }

        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        throw Invalid(name, text);
    }

    /// <summary>Reads a double; empty and the max sentinels mean unset (null); "Infinity" is +∞.</summary>
    public double? Double(string name)
    {
        var text = String(name);
        if (text.Length == 0)
        {
            return null;
        }

        if (text is "Infinity" or "inf")
        {
            return double.PositiveInfinity;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && !double.IsNaN(value))
        {
            return value >= double.MaxValue || value == int.MaxValue ? null : value;
        }

        throw Invalid(name, text);
    }

    /// <summary>Reads a decimal quantity; empty and the int/long/double max sentinels mean unset (null).</summary>
    public decimal? Decimal(string name)
    {
        var text = String(name);
        if (text.Length == 0 || text is TwsText.UnsetInt or "9223372036854775807" or "-9223372036854775808")
        {
            return null;
        }

        if (decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var asDouble) && asDouble >= double.MaxValue)
        {
            return null;
        }

        throw Invalid(name, text);
    }

    public bool Bool(string name)
    {
        var text = String(name);
        return text switch
        {
            "" or "0" or "false" or "False" => false,
            "1" or "true" or "True" => true,
            _ => int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)
                ? n != 0
                : throw Invalid(name, text),
        };
    }

    private TwsRequestException Invalid(string name, string text) =>
        new(321, $"Error validating request: field '{name}' (index {_index - 1}) is not a valid number: '{text}'");
}
