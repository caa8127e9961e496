using System.Buffers.Binary;
using System.Globalization;
using System.IO.Pipelines;
using MetalSniper.InteractiveBrokers.Wire;
using static MetalSniper.InteractiveBrokers.Tests.WireTestFrames;

namespace MetalSniper.InteractiveBrokers.Tests;

/// <summary>
/// Property test: ≥ 100 000 frames — valid ones of every decoded type mixed with truncated, corrupted, random and
/// unknown-id frames (correct framing) and occasionally a fatal oversized length — are split into random chunks and
/// fed through a real <see cref="Pipe"/> into <see cref="TwsFrameReader"/>. Properties: no exception except the typed
/// framing error (and that only where a bad length was injected); the stream decodes to exactly the concatenation of
/// decoding each frame on its own (so no desynchronisation beyond a bad frame); every valid frame decodes without error;
/// every deliberately broken frame is reported; no decoder fault.
/// </summary>
public sealed class WireFuzzTests
{
    private const int Seed = 20260501;
    private const int TargetFrames = 100_000;
    private static readonly KeyValuePair<string, string>[] NoSecIds = [];

    private enum FrameKind
    {
        Valid,
        Broken,
        Random,
    }

    [Fact]
    public async Task FrameReaderAndDecoder_SurviveRandomTruncatedAndOversizedFrames_WithoutDesynchronising()
    {
        var rng = new Random(Seed);
        var decoder = new TwsMessageDecoder();
        var framesFed = 0;
        var streams = 0;
        var fatalStreams = 0;
        var brokenReported = 0;
        var brokenFed = 0;
        var validFed = 0;

        while (framesFed < TargetFrames)
        {
            streams++;
            var frames = new List<(byte[] Payload, FrameKind Kind)>();
            var count = rng.Next(200, 1200);
            for (var i = 0; i < count; i++)
            {
                var roll = rng.NextDouble();
                if (roll < 0.6)
                {
                    frames.Add((ValidPayload(rng), FrameKind.Valid));
                }
                else if (roll < 0.9)
                {
                    frames.Add((BrokenPayload(rng, ValidPayload(rng)), FrameKind.Broken));
                }
                else
                {
                    frames.Add((RandomPayload(rng), FrameKind.Random));
                }
            }

            // Expected: each frame decoded on its own.
            var expected = new List<TwsEvent>();
            foreach (var (payload, kind) in frames)
            {
                var before = expected.Count;
                decoder.Decode(payload, At, expected);
                var produced = expected.GetRange(before, expected.Count - before);
                if (produced.Any(e => e is DecodeErrorEvent { Kind: TwsDecodeErrorKind.InternalFault }))
                {
                    throw new Xunit.Sdk.XunitException($"decoder fault on {Show(payload)}: {produced[0]}");
                }

                if (kind == FrameKind.Valid)
                {
                    if (produced.Any(e => e is DecodeErrorEvent || e is UnknownMessageEvent))
                    {
                        throw new Xunit.Sdk.XunitException($"valid frame failed: {Show(payload)} -> {produced[0]}");
                    }

                    validFed++;
                }
                else if (kind == FrameKind.Broken)
                {
                    brokenFed++;
                    if (produced.Count == 1 && produced[0] is DecodeErrorEvent or UnknownMessageEvent)
                    {
                        brokenReported++;
                    }
                }
            }

            var stream = new MemoryStream();
            foreach (var (payload, _) in frames)
            {
                stream.Write(Framed(payload));
            }

            var goodBytes = stream.Length;
            var fatal = rng.NextDouble() < 0.3;
            int? badLength = null;
            if (fatal)
            {
                fatalStreams++;
                var prefix = new byte[4];
                badLength = rng.Next(3) switch
                {
                    0 => TwsProtocol.MaxFrameLength + 1 + rng.Next(1_000_000),
                    1 => 0,
                    _ => -rng.Next(1, int.MaxValue),
                };
                BinaryPrimitives.WriteInt32BigEndian(prefix, badLength.Value);
                stream.Write(prefix);
                stream.Write(ValidPayload(rng)); // garbage after the lost boundary
            }

            var actual = new List<TwsEvent>();
            TwsFramingException? framingError = null;
            var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
            var bytes = stream.ToArray();
            var chunkSeed = rng.Next();
            var writer = Task.Run(async () =>
            {
                var chunkRng = new Random(chunkSeed);
                var offset = 0;
                while (offset < bytes.Length)
                {
                    var n = Math.Min(bytes.Length - offset, chunkRng.Next(1, 3) == 1 ? chunkRng.Next(1, 16) : chunkRng.Next(16, 8192));
                    await pipe.Writer.WriteAsync(bytes.AsMemory(offset, n));
                    offset += n;
                }

                await pipe.Writer.CompleteAsync();
            });

            var reader = new TwsFrameReader(pipe.Reader, decoder, new FakeTimeProvider(At));
            try
            {
                while (await reader.ReadEventsAsync(actual, CancellationToken.None))
                {
                }
            }
            catch (TwsFramingException ex)
            {
                framingError = ex;
            }

            await writer;

            actual.Count.ShouldBe(expected.Count, $"stream {streams}: event count differs");
            for (var i = 0; i < expected.Count; i++)
            {
                if (!Same(actual[i], expected[i]))
                {
                    throw new Xunit.Sdk.XunitException($"stream {streams}, event {i}: expected {expected[i]}, got {actual[i]}");
                }
            }

            if (fatal)
            {
                framingError.ShouldNotBeNull($"stream {streams}: the bad length {badLength} was not reported");
                framingError.DeclaredLength.ShouldBe(badLength!.Value);
                framingError.StreamOffset.ShouldBe(goodBytes);
            }
            else
            {
                framingError.ShouldBeNull();
                reader.TruncatedBytesAtEnd.ShouldBe(0);
            }

            reader.FramesRead.ShouldBe(frames.Count);
            framesFed += frames.Count;
        }

        framesFed.ShouldBeGreaterThanOrEqualTo(TargetFrames);
        fatalStreams.ShouldBeGreaterThan(0);
        validFed.ShouldBeGreaterThan(TargetFrames / 2);
        // Nearly every deliberately broken frame must be reported as broken (a few corruptions hit a text field and stay valid).
        brokenReported.ShouldBeGreaterThan((int)(brokenFed * 0.8));
    }

    private static bool Same(TwsEvent a, TwsEvent b) => a switch
    {
        // Records with list members compare lists by reference: compare those by content.
        ManagedAccountsEvent x when b is ManagedAccountsEvent y => x.Accounts.SequenceEqual(y.Accounts),
        HistoricalDataEvent x when b is HistoricalDataEvent y => x.ReqId == y.ReqId && x.Start == y.Start && x.End == y.End && x.Bars.SequenceEqual(y.Bars),
        UnknownMessageEvent x when b is UnknownMessageEvent y => x.MessageId == y.MessageId && x.Fields.SequenceEqual(y.Fields),
        ContractDetailsEvent x when b is ContractDetailsEvent y => x.ReqId == y.ReqId && x.Details with { SecIds = NoSecIds } == y.Details with { SecIds = NoSecIds }
            && x.Details.SecIds.SequenceEqual(y.Details.SecIds),
        _ => a.Equals(b),
    };

    private static string Show(byte[] payload) => System.Text.Encoding.ASCII.GetString(payload).Replace('\0', '|');

    private static string D(Random r, double scale = 5000) => Math.Round(r.NextDouble() * scale, r.Next(0, 5)).ToString("R", CultureInfo.InvariantCulture);

    private static string I(Random r, int max = 1_000_000) => r.Next(-1, max).ToString(CultureInfo.InvariantCulture);

    private static string Text(Random r, int maxLength = 24)
    {
        var n = r.Next(0, maxLength);
        var chars = new char[n];
        for (var i = 0; i < n; i++)
        {
            chars[i] = (char)r.Next(0x20, 0x7F);
        }

        return new string(chars);
    }

    private static byte[] ValidPayload(Random r)
    {
        switch (r.Next(14))
        {
            case 0: return Payload($"9|1|{I(r)}");
            case 1: return Payload($"1|6|{I(r)}|{r.Next(0, 90)}|{D(r)}|{r.Next(0, 5000)}|{r.Next(0, 8)}");
            case 2: return Payload($"2|6|{I(r)}|{r.Next(0, 90)}|{D(r, 1e6)}");
            case 3: return Payload($"3|{I(r)}|Submitted|{r.Next(0, 100)}|{r.Next(0, 100)}|{D(r)}|{r.NextInt64(0, 5_000_000_000)}|0|{D(r)}|7||1.7976931348623157E308");
            case 4: return Payload(["4", "2", I(r), r.Next(100, 10200).ToString(CultureInfo.InvariantCulture), Text(r, 60), ""]);
            case 5:
            {
                var f = "11|-1|1|265598|AAPL|STK||0.0|||IEX|USD|AAPL|NMS|0000e0d5.69dd7411.01.01|20260413 15:27:04 US/Eastern|DUP770846|IEX|BOT|1|257.95|389211034|94|0|1|257.95|||||2".Split('|');
                f[2] = I(r);
                f[20] = D(r);
                return Payload(f);
            }

            case 6: return Payload(OpenOrderFields(orderId: r.Next(1, 100000), noneDeltaNeutral: r.Next(2) == 0, orderRef: Text(r)));
            case 7:
            {
                var n = r.Next(0, 8);
                var f = new List<string> { "17", I(r), Text(r), Text(r), n.ToString(CultureInfo.InvariantCulture) };
                for (var i = 0; i < n; i++)
                {
                    f.AddRange([Text(r), D(r), D(r), D(r), D(r), r.Next(-1, 100000).ToString(CultureInfo.InvariantCulture), D(r), I(r)]);
                }

                return Payload(f);
            }

            case 8: return Payload($"61|3|DU9000001|{I(r)}|AMZN|STK||0.0|||NASDAQ|USD|AMZN|NMS|{r.Next(-100, 100)}|{D(r)}");
            case 9: return Payload(["63", "1", I(r), "DU1234567", Text(r), Text(r), "USD"]);
            case 10: return Payload($"49|1|{r.NextInt64(0, 4_000_000_000)}");
            case 11: return Payload(XauContractDetailsFields(r.Next(1, 100000)));
            case 12: return Payload(CompletedOrderFields(permId: r.NextInt64(1, 5_000_000_000)));
            default: return Payload($"50|3|{I(r)}|{r.NextInt64(0, 4_000_000_000)}|{D(r)}|{D(r)}|{D(r)}|{D(r)}|-1|-1|-1");
        }
    }

    private static byte[] BrokenPayload(Random r, byte[] valid)
    {
        switch (r.Next(5))
        {
            case 0:
                // Truncated content (the frame length still matches what is sent).
                return valid[..r.Next(1, valid.Length)];
            case 1:
            {
                // A letter inside a numeric field: corrupt the message id or a byte of the first fields.
                var copy = (byte[])valid.Clone();
                var firstNul = Array.IndexOf(copy, (byte)0);
                copy[r.Next(0, Math.Max(1, firstNul))] = (byte)'x';
                return copy;
            }

            case 2:
            {
                // One field dropped (every layout is strict, so this can never decode as valid).
                var fields = System.Text.Encoding.ASCII.GetString(valid, 0, valid.Length - 1).Split('\0').ToList();
                if (fields.Count < 3)
                {
                    return [.. valid[..^1]];
                }

                fields.RemoveAt(r.Next(1, fields.Count));
                return Payload(fields);
            }

            case 3:
                // An extra field appended.
                return [.. valid, .. "1\0"u8.ToArray()];
            default:
                // An unknown message id.
                return Payload($"{r.Next(200, 100000)}|1|{Text(r)}");
        }
    }

    private static byte[] RandomPayload(Random r)
    {
        var bytes = new byte[r.Next(1, 300)];
        r.NextBytes(bytes);
        if (r.Next(2) == 0)
        {
            bytes[^1] = 0;
        }

        return bytes;
    }
}
