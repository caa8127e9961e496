using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;

namespace MetalSniper.InteractiveBrokers.Wire;

/// <summary>
/// One complete client → server frame: the 4-byte big-endian length prefix followed by every NUL-terminated field,
/// in a single buffer rented from <see cref="ArrayPool{T}.Shared"/> (TWS-PROTOCOL.md §1.1, §11). The buffer is
/// returned to the pool by <see cref="Dispose"/>; after that <see cref="Memory"/> must not be used. Disposing twice is
/// harmless. Ownership passes to whoever the message is handed to (e.g. the client's send queue).
/// </summary>
public sealed class TwsOutgoingMessage : IDisposable
{
    private byte[]? _buffer;

    internal TwsOutgoingMessage(byte[] buffer, int length, int messageId, int fieldCount)
    {
        _buffer = buffer;
        Length = length;
        MessageId = messageId;
        FieldCount = fieldCount;
    }

    /// <summary>The message id (field 0), e.g. 3 for placeOrder.</summary>
    public int MessageId { get; }

    /// <summary>Number of fields in the payload, message id included (e.g. 115 for a simple placeOrder).</summary>
    public int FieldCount { get; }

    /// <summary>Total length in bytes, length prefix included.</summary>
    public int Length { get; }

    /// <summary>The frame bytes (prefix + payload).</summary>
    /// <exception cref="ObjectDisposedException">The message was disposed.</exception>
    public ReadOnlyMemory<byte> Memory => new(_buffer ?? throw new ObjectDisposedException(nameof(TwsOutgoingMessage)), 0, Length);

    /// <summary>A copy of the frame bytes (prefix + payload); for tests and diagnostics.</summary>
    /// <returns>A new array of <see cref="Length"/> bytes.</returns>
    /// <exception cref="ObjectDisposedException">The message was disposed.</exception>
    public byte[] ToArray() => Memory.ToArray();

    /// <summary>The payload fields decoded as text (without their NUL terminators); for tests and diagnostics.</summary>
    /// <returns>The fields, message id first.</returns>
    public string[] Fields()
    {
        var payload = Memory.Span[TwsProtocol.LengthPrefixSize..];
        var fields = new string[FieldCount];
        var i = 0;
        while (!payload.IsEmpty)
        {
            var nul = payload.IndexOf((byte)0);
            fields[i++] = System.Text.Encoding.ASCII.GetString(payload[..nul]);
            payload = payload[(nul + 1)..];
        }

        return fields;
    }

    /// <summary>Returns the buffer to the pool. Idempotent.</summary>
    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>
/// Builds one client → server frame field by field into a pooled buffer, with the TWS encoding rules of
/// TWS-PROTOCOL.md §1.2: invariant culture; <c>""</c> for unset (null) values and for the max sentinels
/// (<see cref="int.MaxValue"/>, <see cref="double.MaxValue"/>), as the official C# client's <c>AddParameterMax</c>;
/// booleans <c>"1"</c>/<c>"0"</c>; doubles in shortest round-trip form with a <c>".0"</c> suffix on integral values
/// (<c>0.0</c>, <c>150.25</c>: the official Python client's form, so golden frames match byte for byte; TWS parses both);
/// +∞ as <c>"Infinity"</c>; decimals as plain invariant text without trailing zeros or exponent (<c>100</c>, <c>0.5</c>);
/// strings must be printable ASCII (0x20–0x7E). No allocation per field.
/// Use <c>var w = new TwsMessageWriter(id);</c> (a mutable local — not a <c>using</c> variable, which would be
/// read-only), add the fields, then call <see cref="Complete"/>. If a field throws, the rented buffer is simply left to
/// the garbage collector (or call <see cref="Dispose"/>).
/// </summary>
public ref struct TwsMessageWriter
{
    private byte[]? _buffer;
    private int _position;
    private int _fieldCount;
    private readonly int _messageId;

    /// <summary>Starts a frame and writes the message id as field 0.</summary>
    /// <param name="messageId">The message id (see <see cref="OutgoingMessageId"/>).</param>
    /// <param name="capacityHint">Expected frame size in bytes; the buffer grows as needed.</param>
    public TwsMessageWriter(int messageId, int capacityHint = 256)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(capacityHint, 32));
        _position = TwsProtocol.LengthPrefixSize;
        _fieldCount = 0;
        _messageId = messageId;
        Add(messageId);
    }

    /// <summary>Number of fields written so far (message id included).</summary>
    public readonly int FieldCount => _fieldCount;

    /// <summary>Writes a string field. Null means unset and is written as <c>""</c>.</summary>
    /// <param name="value">The value; printable ASCII only.</param>
    /// <exception cref="ArgumentException">The value contains a character outside 0x20–0x7E (names the field index, position and character).</exception>
    public void Add(string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            var span = Reserve(value.Length);
            for (var i = 0; i < value.Length; i++)
            {
                var c = value[i];
                if (c < 0x20 || c > 0x7E)
                {
                    throw new ArgumentException(
                        $"TWS fields must be printable ASCII (0x20-0x7E): field {_fieldCount} has U+{(int)c:X4} at position {i} in \"{Sanitise(value)}\"",
                        nameof(value));
                }

                span[i] = (byte)c;
            }

            _position += value.Length;
        }

        EndField();
    }

    /// <summary>Writes an integer field in invariant decimal form.</summary>
    /// <param name="value">The value.</param>
    public void Add(int value)
    {
        var span = Reserve(11);
        value.TryFormat(span, out var written, default, CultureInfo.InvariantCulture);
        _position += written;
        EndField();
    }

    /// <summary>Writes an optional integer: null or <see cref="int.MaxValue"/> (TWS's unset sentinel) become <c>""</c>.</summary>
    /// <param name="value">The value or null.</param>
    public void Add(int? value)
    {
        if (value is { } v && v != int.MaxValue)
        {
            Add(v);
        }
        else
        {
            EndField();
        }
    }

    /// <summary>Writes a long field in invariant decimal form.</summary>
    /// <param name="value">The value.</param>
    public void Add(long value)
    {
        var span = Reserve(20);
        value.TryFormat(span, out var written, default, CultureInfo.InvariantCulture);
        _position += written;
        EndField();
    }

    /// <summary>Writes a boolean as <c>"1"</c> or <c>"0"</c>.</summary>
    /// <param name="value">The value.</param>
    public void Add(bool value)
    {
        var span = Reserve(1);
        span[0] = value ? (byte)'1' : (byte)'0';
        _position++;
        EndField();
    }

    /// <summary>
    /// Writes a double: shortest round-trip invariant text, <c>".0"</c> appended to integral values, +∞ as
    /// <c>"Infinity"</c>, <see cref="double.MaxValue"/> (unset) as <c>""</c>.
    /// </summary>
    /// <param name="value">The value.</param>
    /// <exception cref="ArgumentException">The value is NaN or −∞ (TWS cannot parse them).</exception>
    public void Add(double value)
    {
        if (double.IsNaN(value) || double.IsNegativeInfinity(value))
        {
            throw new ArgumentException($"TWS double fields must be finite or +Infinity: field {_fieldCount} was {value.ToString(CultureInfo.InvariantCulture)}", nameof(value));
        }

        if (value == double.MaxValue)
        {
            EndField();
            return;
        }

        if (double.IsPositiveInfinity(value))
        {
            Add("Infinity");
            return;
        }

        var span = Reserve(32);
        value.TryFormat(span, out var written, "R", CultureInfo.InvariantCulture);
        var integral = true;
        for (var i = 0; i < written; i++)
        {
            var b = span[i];
            if (b is not ((>= (byte)'0' and <= (byte)'9') or (byte)'-'))
            {
                integral = false;
                break;
            }
        }

        if (integral)
        {
            span[written++] = (byte)'.';
            span[written++] = (byte)'0';
        }

        _position += written;
        EndField();
    }

    /// <summary>Writes an optional double; null (unset) is written as <c>""</c>. See <see cref="Add(double)"/>.</summary>
    /// <param name="value">The value or null.</param>
    /// <exception cref="ArgumentException">The value is NaN or −∞.</exception>
    public void Add(double? value)
    {
        if (value is { } v)
        {
            Add(v);
        }
        else
        {
            EndField();
        }
    }

    /// <summary>Writes a decimal (quantities since server 101) as plain invariant text without trailing zeros: <c>100</c>, <c>0.5</c>.</summary>
    /// <param name="value">The value.</param>
    public void Add(decimal value)
    {
        var normalised = value / 1.0000000000000000000000000000m;
        var span = Reserve(32);
        normalised.TryFormat(span, out var written, default, CultureInfo.InvariantCulture);
        _position += written;
        EndField();
    }

    /// <summary>Writes an optional decimal; null (unset) is written as <c>""</c>.</summary>
    /// <param name="value">The value or null.</param>
    public void Add(decimal? value)
    {
        if (value is { } v)
        {
            Add(v);
        }
        else
        {
            EndField();
        }
    }

    /// <summary>
    /// Finishes the frame: writes the big-endian payload length into the prefix and hands the pooled buffer to the
    /// returned message (this writer no longer owns it).
    /// </summary>
    /// <returns>The complete frame.</returns>
    /// <exception cref="InvalidOperationException">Already completed, or the payload exceeds <see cref="TwsProtocol.MaxFrameLength"/>.</exception>
    public TwsOutgoingMessage Complete()
    {
        var buffer = _buffer ?? throw new InvalidOperationException("TwsMessageWriter was already completed or disposed");
        var payloadLength = _position - TwsProtocol.LengthPrefixSize;
        if (payloadLength > TwsProtocol.MaxFrameLength)
        {
            throw new InvalidOperationException($"frame payload must be <= {TwsProtocol.MaxFrameLength} bytes, was {payloadLength}");
        }

        BinaryPrimitives.WriteInt32BigEndian(buffer, payloadLength);
        _buffer = null;
        return new TwsOutgoingMessage(buffer, _position, _messageId, _fieldCount);
    }

    /// <summary>Returns the buffer to the pool if <see cref="Complete"/> was not called (e.g. a field threw).</summary>
    public void Dispose()
    {
        if (_buffer is { } b)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(b);
        }
    }

    private void EndField()
    {
        Reserve(1)[0] = 0;
        _position++;
        _fieldCount++;
    }

    private Span<byte> Reserve(int bytes)
    {
        var buffer = _buffer ?? throw new InvalidOperationException("TwsMessageWriter was already completed or disposed");
        if (_position + bytes > buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(buffer.Length * 2, _position + bytes));
            buffer.AsSpan(0, _position).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(buffer);
            _buffer = buffer = bigger;
        }

        return buffer.AsSpan(_position, bytes);
    }

    private static string Sanitise(string value)
    {
        var chars = value.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (chars[i] < 0x20 || chars[i] > 0x7E)
            {
                chars[i] = '?';
            }
        }

        return new string(chars);
    }
}
