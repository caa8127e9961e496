using System.Buffers.Binary;
using System.IO.Pipelines;
using MetalSniper.InteractiveBrokers.Wire;
using static MetalSniper.InteractiveBrokers.Tests.WireTestFrames;

namespace MetalSniper.InteractiveBrokers.Tests;

public sealed class WireFrameReaderTests
{
    private static TwsFrameReader NewReader(Pipe pipe) => new(pipe.Reader, new TwsMessageDecoder(), TimeProvider.System);

    private static async Task<List<TwsEvent>> ReadAllAsync(TwsFrameReader reader)
    {
        var events = new List<TwsEvent>();
        while (await reader.ReadEventsAsync(events, CancellationToken.None))
        {
        }

        return events;
    }

    [Fact]
    public async Task Reader_ReassemblesFramesSplitByteByByte_AndSeveralFramesPerWrite()
    {
        var pipe = new Pipe();
        var bytes = Framed("9|1|42").Concat(Framed("49|1|1777636800")).Concat(Framed("15|1|DU1,DU2")).ToArray();
        var writer = Task.Run(async () =>
        {
            foreach (var b in bytes[..10])
            {
                await pipe.Writer.WriteAsync(new[] { b });
            }

            await pipe.Writer.WriteAsync(bytes[10..]);
            await pipe.Writer.CompleteAsync();
        });
        var events = await ReadAllAsync(NewReader(pipe));
        await writer;

        events.Select(e => e.GetType()).ShouldBe([typeof(NextValidIdEvent), typeof(CurrentTimeEvent), typeof(ManagedAccountsEvent)]);
        ((NextValidIdEvent)events[0]).OrderId.ShouldBe(42);
    }

    [Fact]
    public async Task Reader_SkipsMalformedFrame_AndDecodesTheNext()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(Framed("9|1|x").Concat(Framed("1|6|1")).Concat(Framed(new byte[] { (byte)'9', 0, (byte)'1' })).Concat(Framed("9|1|7")).ToArray());
        await pipe.Writer.CompleteAsync();
        var events = await ReadAllAsync(NewReader(pipe));

        events.Count.ShouldBe(4);
        events[0].ShouldBeOfType<DecodeErrorEvent>().Kind.ShouldBe(TwsDecodeErrorKind.BadNumber);
        events[1].ShouldBeOfType<DecodeErrorEvent>().Kind.ShouldBe(TwsDecodeErrorKind.TooFewFields);
        events[2].ShouldBeOfType<DecodeErrorEvent>().Kind.ShouldBe(TwsDecodeErrorKind.MissingTerminator);
        events[3].ShouldBeOfType<NextValidIdEvent>().OrderId.ShouldBe(7);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(0x1000000)]
    [InlineData(int.MaxValue)]
    public async Task Reader_BadLengthPrefix_IsFatal_AfterDeliveringTheGoodFramesBeforeIt(int length)
    {
        var pipe = new Pipe();
        var bad = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(bad, length);
        await pipe.Writer.WriteAsync(Framed("9|1|5").Concat(bad).Concat(Framed("9|1|6")).ToArray());
        await pipe.Writer.CompleteAsync();
        var reader = NewReader(pipe);
        var events = new List<TwsEvent>();

        (await reader.ReadEventsAsync(events, CancellationToken.None)).ShouldBeTrue();
        events.Single().ShouldBeOfType<NextValidIdEvent>().OrderId.ShouldBe(5);
        var ex = await Should.ThrowAsync<TwsFramingException>(async () => await reader.ReadEventsAsync(events, CancellationToken.None));
        ex.DeclaredLength.ShouldBe(length);
        ex.StreamOffset.ShouldBe(Framed("9|1|5").Length);
        await Should.ThrowAsync<TwsFramingException>(async () => await reader.ReadEventsAsync(events, CancellationToken.None));
    }

    [Fact]
    public async Task Reader_AcceptsALargeHistoricalFrame_WellAbove4096Bytes()
    {
        const int bars = 2000;
        var fields = new List<string> { "17", "1", "s", "e", bars.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        for (var i = 0; i < bars; i++)
        {
            fields.AddRange(["20260402 09:30:00 US/Eastern", "254.20", "254.80", "250.65", "252.53", "2829736", "252.266", "13633"]);
        }

        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0)); // the whole frame is written before reading starts
        var frame = Framed(Payload(fields));
        frame.Length.ShouldBeGreaterThan(100_000);
        await pipe.Writer.WriteAsync(frame);
        await pipe.Writer.CompleteAsync();
        var events = await ReadAllAsync(NewReader(pipe));
        events.Single().ShouldBeOfType<HistoricalDataEvent>().Bars.Count.ShouldBe(bars);
    }

    [Fact]
    public async Task Reader_StreamEndingInsideAFrame_ReturnsFalse_AndReportsTheLeftover()
    {
        var pipe = new Pipe();
        var frame = Framed("9|1|5");
        await pipe.Writer.WriteAsync(frame.Concat(frame[..5]).ToArray());
        await pipe.Writer.CompleteAsync();
        var reader = NewReader(pipe);
        var events = await ReadAllAsync(reader);
        events.Count.ShouldBe(1);
        reader.TruncatedBytesAtEnd.ShouldBe(5);
    }

    [Fact]
    public async Task ReadFrameAsync_ReturnsTheHelloPayload_ThenEventsFollow()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(Hex("00 00 00 1a 31 37 36 00 32 30 32 36 30 35 30 31 20 31 32 3a 30 30 3a 30 30 20 45 53 54 00").Concat(Framed("9|1|1")).ToArray());
        await pipe.Writer.CompleteAsync();
        var reader = NewReader(pipe);
        var hello = await reader.ReadFrameAsync(CancellationToken.None);
        TwsServerHello.Parse(hello).ServerVersion.ShouldBe(176);
        var events = await ReadAllAsync(reader);
        events.Single().ShouldBeOfType<NextValidIdEvent>();
        reader.FramesRead.ShouldBe(2);
    }
}
