namespace MetalSniper.InteractiveBrokers.Wire;

/// <summary>
/// The server's handshake reply (TWS-PROTOCOL.md §2.1 step 3): a framed <c>serverVersion\0connectionTime\0</c>.
/// </summary>
/// <param name="ServerVersion">The negotiated server version (must be 176 for us).</param>
/// <param name="ConnectionTime">TWS's connection time as sent, e.g. <c>20260501 12:00:00 EST</c> (the zone may be a long Windows name).</param>
public sealed record TwsServerHello(int ServerVersion, string ConnectionTime)
{
    /// <summary>
    /// Parses the version reply. A first field of <c>-1</c> is the (rare) redirect form, reported as
    /// <see cref="TwsDecodeErrorKind.BadStructure"/> since we do not follow redirects.
    /// </summary>
    /// <param name="payload">The frame payload.</param>
    /// <returns>The parsed reply.</returns>
    /// <exception cref="TwsDecodeException">Not a version reply (bad number, too few fields, redirect).</exception>
    public static TwsServerHello Parse(ReadOnlySpan<byte> payload)
    {
        var cursor = new TwsFieldCursor(payload);
        var version = cursor.ReadInt();
        if (version == -1)
        {
            var target = cursor.IsAtEnd ? "" : cursor.ReadString();
            throw new TwsDecodeException(TwsDecodeErrorKind.BadStructure, 0, $"server asked to redirect to \"{target}\"; redirects are not supported");
        }

        if (version <= 0)
        {
            throw new TwsDecodeException(TwsDecodeErrorKind.BadNumber, 0, $"server version must be > 0, was {version}");
        }

        var time = cursor.ReadString();
        return new TwsServerHello(version, time);
    }
}
