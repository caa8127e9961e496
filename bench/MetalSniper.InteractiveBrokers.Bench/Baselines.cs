using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace MetalSniper.InteractiveBrokers.Bench;

/// <summary>The same-run baselines PERFORMANCE.md asks for: idle channel-consumer wake and loopback TCP round trip.</summary>
internal static class Baselines
{
    /// <summary>Write → read latency (µs) of an unbounded channel whose single consumer is asleep (idle gap before each write).</summary>
    public static async Task<double[]> IdleWakeAsync(int warmup, int samples, TimeSpan gap, CancellationToken cancellationToken)
    {
        var channel = Channel.CreateUnbounded<long>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var results = new double[warmup + samples];
        var consumer = Task.Run(async () =>
        {
            var n = 0;
            while (await channel.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (channel.Reader.TryRead(out var writtenAt))
                {
                    results[n++] = Stopwatch.GetElapsedTime(writtenAt).Ticks / 10.0;
                }
            }
        }, cancellationToken);

        for (var i = 0; i < warmup + samples; i++)
        {
            await Task.Delay(gap, cancellationToken).ConfigureAwait(false);
            channel.Writer.TryWrite(Stopwatch.GetTimestamp());
        }

        channel.Writer.TryComplete();
        await consumer.ConfigureAwait(false);
        return results[warmup..];
    }

    /// <summary>Round trip (µs) of 64 bytes over a 127.0.0.1 TCP connection (NoDelay) to an echo task, idle gap before each.</summary>
    public static async Task<double[]> LoopbackRoundTripAsync(int warmup, int samples, TimeSpan gap, CancellationToken cancellationToken)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var accepting = listener.AcceptAsync(cancellationToken).AsTask();
        await client.ConnectAsync(listener.LocalEndPoint!, cancellationToken).ConfigureAwait(false);
        using var server = await accepting.ConfigureAwait(false);
        server.NoDelay = true;
        var echo = Task.Run(async () =>
        {
            await using var stream = new NetworkStream(server, ownsSocket: false);
            var buffer = new byte[64];
            while (await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false) == buffer.Length)
            {
                await stream.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
        }, cancellationToken);

        var results = new double[samples];
        await using (var stream = new NetworkStream(client, ownsSocket: false))
        {
            var outgoing = new byte[64];
            var incoming = new byte[64];
            for (var i = 0; i < warmup + samples; i++)
            {
                await Task.Delay(gap, cancellationToken).ConfigureAwait(false);
                var start = Stopwatch.GetTimestamp();
                await stream.WriteAsync(outgoing, cancellationToken).ConfigureAwait(false);
                await stream.ReadExactlyAsync(incoming, cancellationToken).ConfigureAwait(false);
                var micros = Stopwatch.GetElapsedTime(start).Ticks / 10.0;
                if (i >= warmup)
                {
                    results[i - warmup] = micros;
                }
            }
        }

        client.Shutdown(SocketShutdown.Send);
        await echo.ConfigureAwait(false);
        return results;
    }
}
