using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace MetalSniper.InteractiveBrokers.Wire;

/// <summary>
/// A fatal framing error: a length prefix ≤ 0 or above <see cref="TwsProtocol.MaxFrameLength"/>. The frame boundary is
/// lost, so nothing after it can be trusted: the connection must be dropped (TWS-PROTOCOL.md §1.1, §11).
/// </summary>
public sealed class TwsFramingException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="declaredLength">The length prefix that was read.</param>
    /// <param name="streamOffset">Byte offset of the prefix in the stream.</param>
    public TwsFramingException(long declaredLength, long streamOffset)
        : base($"frame length must be 1..{TwsProtocol.MaxFrameLength} bytes, was {declaredLength} at stream offset {streamOffset}: the stream is desynchronised")
    {
        DeclaredLength = declaredLength;
        StreamOffset = streamOffset;
    }

    /// <summary>The offending length prefix (signed 32-bit reading of the 4 bytes).</summary>
    public long DeclaredLength { get; }

    /// <summary>Byte offset of the prefix in the stream.</summary>
    public long StreamOffset { get; }
}

/// <summary>
/// Reads length-prefixed frames from a <see cref="PipeReader"/> (e.g. over the socket's stream) and decodes them with
/// <see cref="TwsMessageDecoder"/> (TWS-PROTOCOL.md §1.1, §11). Re-assembles frames split across reads and handles
/// several frames per read. A frame with bad content yields a <see cref="DecodeErrorEvent"/> and the next frame still
/// decodes; a bad length prefix is fatal (<see cref="TwsFramingException"/>). Single consumer; not thread-safe.
/// </summary>
public sealed class TwsFrameReader
{
    private readonly PipeReader _reader;
    private readonly TwsMessageDecoder _decoder;
    private readonly TimeProvider _time;
    private TwsFramingException? _fatal;
    private long _streamOffset;

    /// <summary>Creates a reader.</summary>
    /// <param name="reader">The source of bytes.</param>
    /// <param name="decoder">The decoder.</param>
    /// <param name="timeProvider">Clock for <see cref="TwsEvent.ReceivedAt"/>.</param>
    public TwsFrameReader(PipeReader reader, TwsMessageDecoder decoder, TimeProvider timeProvider)
    {
        _reader = reader ?? throw new ArgumentNullException(nameof(reader));
        _decoder = decoder ?? throw new ArgumentNullException(nameof(decoder));
        _time = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
    }

    /// <summary>Number of complete frames read so far.</summary>
    public long FramesRead { get; private set; }

    /// <summary>Bytes left over when the stream ended inside a frame (0 after a clean end).</summary>
    public long TruncatedBytesAtEnd { get; private set; }

    /// <summary>
    /// Reads one raw frame (used for the handshake's version reply, which is not a normal message).
    /// </summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A copy of the payload, or null when the stream ended first.</returns>
    /// <exception cref="TwsFramingException">Bad length prefix.</exception>
    public async ValueTask<byte[]?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        if (_fatal is not null)
        {
            throw _fatal;
        }

        while (true)
        {
            var result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            byte[]? payload = null;
            var leftover = buffer.Length;
            try
            {
                if (TryTakeFrame(ref buffer, out var frame))
                {
                    payload = frame.ToArray();
                    FramesRead++;
                }

                leftover = buffer.Length;
            }
            finally
            {
                _reader.AdvanceTo(buffer.Start, buffer.End);
            }

            if (payload is not null)
            {
                return payload;
            }

            if (_fatal is not null)
            {
                throw _fatal;
            }

            if (result.IsCompleted)
            {
                TruncatedBytesAtEnd = leftover;
                return null;
            }

            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>
    /// Waits until at least one complete frame is available, then decodes every complete frame already buffered and
    /// appends the events to <paramref name="output"/>. If a fatal length prefix follows good frames, the good frames are
    /// returned first and the next call throws.
    /// </summary>
    /// <param name="output">Where decoded events go.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>True if frames were decoded; false when the stream ended (see <see cref="TruncatedBytesAtEnd"/>).</returns>
    /// <exception cref="TwsFramingException">Bad length prefix: drop the connection.</exception>
    public async ValueTask<bool> ReadEventsAsync(ICollection<TwsEvent> output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (_fatal is not null)
        {
            throw _fatal;
        }

        while (true)
        {
            var result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            int frames;
            long leftover;
            try
            {
                frames = DecodeAvailable(ref buffer, output);
                leftover = buffer.Length;
            }
            finally
            {
                _reader.AdvanceTo(buffer.Start, buffer.End);
            }

            if (frames > 0)
            {
                return true;
            }

            if (_fatal is not null)
            {
                throw _fatal;
            }

            if (result.IsCompleted)
            {
                TruncatedBytesAtEnd = leftover;
                return false;
            }

            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    private int DecodeAvailable(ref ReadOnlySequence<byte> buffer, ICollection<TwsEvent> output)
    {
        var frames = 0;
        DateTimeOffset? now = null;
        while (TryTakeFrame(ref buffer, out var payload))
        {
            now ??= _time.GetUtcNow();
            if (payload.IsSingleSegment)
            {
                _decoder.Decode(payload.FirstSpan, now.Value, output);
            }
            else
            {
                var length = (int)payload.Length;
                var rented = ArrayPool<byte>.Shared.Rent(length);
                try
                {
                    payload.CopyTo(rented);
                    _decoder.Decode(rented.AsSpan(0, length), now.Value, output);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }
            }

            FramesRead++;
            frames++;
        }

        return frames;
    }

    private bool TryTakeFrame(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> payload)
    {
        payload = default;
        if (_fatal is not null || buffer.Length < TwsProtocol.LengthPrefixSize)
        {
            return false;
        }

        Span<byte> prefix = stackalloc byte[TwsProtocol.LengthPrefixSize];
        buffer.Slice(0, TwsProtocol.LengthPrefixSize).CopyTo(prefix);
        var length = BinaryPrimitives.ReadInt32BigEndian(prefix);
        if (length <= 0 || length > TwsProtocol.MaxFrameLength)
        {
            _fatal = new TwsFramingException(length, _streamOffset);
            return false;
        }

        if (buffer.Length < TwsProtocol.LengthPrefixSize + (long)length)
        {
            return false;
        }

        payload = buffer.Slice(TwsProtocol.LengthPrefixSize, length);
        buffer = buffer.Slice(TwsProtocol.LengthPrefixSize + (long)length);
        _streamOffset += TwsProtocol.LengthPrefixSize + (long)length;
        return true;
    }
}
