using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace MetalSniper.FakeTws;

public sealed partial class FakeTwsServer
{
    /// <summary>Drops every connection at once (socket closed, queued frames discarded), as a TWS crash or restart does (§10.7).</summary>
    /// <returns>Completes when every connection has been torn down (at most 5 s).</returns>
    public async Task DropAllConnectionsAsync(CancellationToken cancellationToken = default)
    {
        Task[] closing;
        lock (_gate)
        {
            closing = [.. _sessions.Select(s => s.Completion)];
            foreach (var session in _sessions)
            {
                session.Abort();
            }

            _logger.LogInformation("Fake TWS: dropped {Count} connections", closing.Length);
        }

        try
        {
            await Task.WhenAll(closing).WaitAsync(TimeSpan.FromSeconds(5), WallClock, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _logger.LogWarning("Fake TWS: connections did not close within 5 s of the drop");
        }
    }

    /// <summary>
    /// Stops listening for <paramref name="duration"/> (wall clock): new connections are refused by the OS (connection refused),
    /// existing ones stay up. Listening resumes on the same port afterwards.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The duration is not positive.</exception>
    public void RefuseConnectionsFor(TimeSpan duration)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(duration, TimeSpan.Zero);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            StopListeningLocked();
            _refusalTimer?.Dispose();
            _refusalTimer = WallClock.CreateTimer(_ => ResumeListening(), null, duration, Timeout.InfiniteTimeSpan);
            _logger.LogInformation("Fake TWS: refusing connections for {Duration}", duration);
        }
    }

    /// <summary>Stops replying and stops reading on every connection (new ones included) while keeping sockets open (§10.7).</summary>
    public void GoHalfOpen()
    {
        Interlocked.CompareExchange(ref _halfOpenGate, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null);
        _logger.LogInformation("Fake TWS: half-open (no reads, no replies)");
    }

    /// <summary>Ends <see cref="GoHalfOpen"/>: reading resumes (requests that waited in the socket are processed); frames produced meanwhile were lost.</summary>
    public void EndHalfOpen()
    {
        var gate = Interlocked.Exchange(ref _halfOpenGate, null);
        gate?.TrySetResult();
        _logger.LogInformation("Fake TWS: half-open ended");
    }

    /// <summary>Sends a system notice (error frame with id −1) to every connected client: 1100/1101/1102, 2103–2108, 2110, 2157/2158 (§5).</summary>
    /// <param name="code">Notice code.</param>
    /// <param name="message">Text; null uses TWS's usual wording.</param>
    public void SendSystemNotice(int code, string? message = null)
    {
        lock (_gate)
        {
            foreach (var session in ReadySessions)
            {
                SendErrorLocked(session, -1, code, message ?? NoticeText(code));
            }
        }
    }

    /// <summary>
    /// Simulates a TWS/Gateway restart: drops every client, forgets client sessions and subscriptions and untransmitted
    /// orders, and answers the next handshakes with <paramref name="nextValidId"/> (which may be lower: ids roll back).
    /// Orders, executions, completed orders and positions persist. With <paramref name="downtime"/>, connections are
    /// refused for that long first (§8.2: the port reopens 1–3 minutes later).
    /// </summary>
    public async Task SimulateRestartAsync(int nextValidId, TimeSpan? downtime = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nextValidId);
        lock (_gate)
        {
            _nextValidId = nextValidId;
            var vanished = _orders.Values.Where(o => o.Held).ToList();
            foreach (var order in vanished)
            {
                _orders.Remove((order.ClientId, order.OrderId));
            }

            _logger.LogInformation("Fake TWS: restart; nextValidId {NextValidId}; {Vanished} untransmitted orders vanish", nextValidId, vanished.Count);
        }

        if (downtime is { } d)
        {
            RefuseConnectionsFor(d);
        }

        await DropAllConnectionsAsync(cancellationToken).ConfigureAwait(false);
    }

    private void ResumeListening()
    {
        lock (_gate)
        {
            if (_disposed || _listener is not null)
            {
                return;
            }

            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    StartListening(Port);
                    _logger.LogInformation("Fake TWS: accepting connections again on {Port}", Port);
                    return;
                }
                catch (SocketException ex) when (attempt < 50)
                {
                    _logger.LogWarning("Fake TWS: rebinding port {Port} failed ({Message}); retrying", Port, ex.Message);
                    Thread.Sleep(20);
                }
                catch (SocketException ex)
                {
                    RecordInternalError(ex);
                    _logger.LogError(ex, "Fake TWS: could not listen on {Port} again", Port);
                    return;
                }
            }
        }
    }

    /// <summary>Counts a client message in the sliding 1 s pacing window (§8.3); returns false when the message must be dropped.</summary>
    private bool CheckPacingLocked(FakeTwsSession session)
    {
        if (Options.PacingLimitPerSecond is not { } limit)
        {
            return true;
        }

        var now = WallClock.GetUtcNow();
        _pacingWindow.Enqueue(now);
        while (_pacingWindow.Count > 0 && now - _pacingWindow.Peek() >= TimeSpan.FromSeconds(1))
        {
            _pacingWindow.Dequeue();
        }

        if (_pacingWindow.Count <= limit)
        {
            return true;
        }

        if (now - _lastPacingError >= TimeSpan.FromSeconds(1))
        {
            _lastPacingError = now;
            _logger.LogWarning("Fake TWS: pacing violation by client {ClientId}: {Count} messages in 1 s (max {Limit})", session.ClientId, _pacingWindow.Count, limit);
            SendErrorLocked(session, -1, 100, $"Max rate of messages per second has been exceeded:max={limit} rec={_pacingWindow.Count} (1)");
        }

        if (Options.DisconnectOnPacingViolation)
        {
            session.CloseAfterFlush();
            return false;
        }

        return true;
    }
}
