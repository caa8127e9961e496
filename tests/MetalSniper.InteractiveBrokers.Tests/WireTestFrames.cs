using System.Buffers.Binary;
using System.Text;
using MetalSniper.InteractiveBrokers.Wire;

namespace MetalSniper.InteractiveBrokers.Tests;

/// <summary>Helpers that turn TWS-PROTOCOL.md's <c>a|b|c</c> notation (fields joined by '|') into wire bytes.</summary>
internal static class WireTestFrames
{
    public static readonly DateTimeOffset At = new(2026, 5, 1, 16, 0, 0, TimeSpan.Zero);

    /// <summary>"a|b|c" → "a\0b\0c\0".</summary>
    public static byte[] Payload(string pipeJoined) => Encoding.ASCII.GetBytes(pipeJoined.Replace('|', '\0') + "\0");

    /// <summary>Fields → payload.</summary>
    public static byte[] Payload(IEnumerable<string> fields) => Encoding.ASCII.GetBytes(string.Concat(fields.Select(f => f + "\0")));

    /// <summary>Length prefix + payload.</summary>
    public static byte[] Framed(byte[] payload)
    {
        var bytes = new byte[4 + payload.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, payload.Length);
        payload.CopyTo(bytes, 4);
        return bytes;
    }

    public static byte[] Framed(string pipeJoined) => Framed(Payload(pipeJoined));

    /// <summary>Hex like "00 00 00 1a 31 37" → bytes.</summary>
    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal));

    /// <summary>Decodes one payload and returns the events.</summary>
    public static List<TwsEvent> Decode(byte[] payload)
    {
        var list = new List<TwsEvent>();
        new TwsMessageDecoder().Decode(payload, At, list);
        return list;
    }

    /// <summary>Decodes one payload that must yield exactly one event of type T.</summary>
    public static T DecodeSingle<T>(byte[] payload)
        where T : TwsEvent
    {
        var list = Decode(payload);
        if (list.Count != 1 || list[0] is not T t)
        {
            throw new Xunit.Sdk.XunitException($"expected one {typeof(T).Name}, got [{string.Join(", ", list)}]");
        }

        return t;
    }

    /// <summary>The payload fields of an outgoing message joined with '|'.</summary>
    public static string Pipe(TwsOutgoingMessage message) => string.Join('|', message.Fields());

    // ------------------------------------------------------------ frame builders for server messages at 176

    /// <summary>openOrder (5) at 176 for a simple order, 128 fields (or 136 with deltaNeutralOrderType "None").</summary>
    public static List<string> OpenOrderFields(int orderId = 10, string status = "Submitted", long permId = 1_500_000_123, bool noneDeltaNeutral = false,
        string orderType = "LMT", string lmt = "150.25", string aux = "1.7976931348623157E308", string orderRef = "ms-0001", int parentId = 0,
        string ocaGroup = "", string tif = "DAY", string account = "DU1234567", string outsideRth = "0")
    {
        var f = new List<string>
        {
            "5", orderId.ToString(System.Globalization.CultureInfo.InvariantCulture),                     // 0-1
            "265598", "AAPL", "STK", "", "0", "", "", "SMART", "USD", "AAPL", "NMS",                        // 2-12
            "BUY", "100", orderType, lmt, aux, tif, ocaGroup, account, "", "0", orderRef, "7",              // 13-24
            permId.ToString(System.Globalization.CultureInfo.InvariantCulture), outsideRth, "0", "0", "",   // 25-29
            "", "", "", "", "", "", "", "", "", "", "0", "", "-1", "0",                                     // 30-43
            "", "", "", "", "", "0", "0", "0", "0", "", "0", "0", "0", "",                                  // 44-57
            parentId.ToString(System.Globalization.CultureInfo.InvariantCulture), "0", "", "0",              // 58-61
            noneDeltaNeutral ? "None" : "", "",                                                             // 62-63
        };
        if (noneDeltaNeutral)
        {
            f.AddRange(["0", "", "", "", "?", "0", "0", ""]);                                               // +8
        }

        f.AddRange(["0", "0", "", "", "", "", "", "0", "0", "0", "", "", "", "", "0", "", "", "0", "0", "", "0", "0", status]); // 64-86
        f.AddRange(["", "", "", "", "", "", "", "", "", "", "", "", "", ""]);                               // 87-100
        f.AddRange(["0", "0", "0", "", "1.7976931348623157E308", "1.7976931348623157E308", "1.7976931348623157E308",
            "1.7976931348623157E308", "1.7976931348623157E308", "1.7976931348623157E308", "0", "", "", "", "1.7976931348623157E308",
            "0", "0", "0", "0", "2147483647", "2147483647", "0", "2147483647", "2147483647",
            "1.7976931348623157E308", "1.7976931348623157E308", "1.7976931348623157E308"]);                  // 101-127
        return f;
    }

    /// <summary>completedOrder (101) at 176, 97 fields.</summary>
    public static List<string> CompletedOrderFields(long permId = 1_500_000_123, string status = "Filled", string filled = "100")
    {
        var f = new List<string> { "101", "265598", "AAPL", "STK", "", "0", "?", "", "SMART", "USD", "AAPL", "NMS" }; // 0-11
        f.AddRange(["BUY", "100", "LMT", "150.25", "", "DAY", "", "DU1234567", "", "0", "ms-0001",
            permId.ToString(System.Globalization.CultureInfo.InvariantCulture), "0", "0", "0", ""]);       // 12-27
        f.AddRange(["", "", "", "", "", "", "", "", "", "0", "", "-1", "", "", "", "", "", "", "0", "0", "", "0", "0"]); // 28-50
        f.AddRange(["", "0", "", "", "0", "", "", "", "", "0", "0", "0", "", "", "", "", "", "", "0", "0", "", "0"]); // 51-72
        f.AddRange([status, "0", "0", "0", "", "", "", "0", "0", "", filled, "0", "0", "", "0", "0", "0",
            "20260501 15:59:59 US/Eastern", "Filled Size: 100", "", "", "", "", ""]);                   // 73-96
        return f;
    }

    /// <summary>contractDetails (10) at 176 for XAUUSD, 40 fields.</summary>
    public static List<string> XauContractDetailsFields(int reqId = 1002) =>
    [
        "10", reqId.ToString(System.Globalization.CultureInfo.InvariantCulture), "XAUUSD", "CMDTY", "", "0", "", "SMART", "USD", "XAUUSD",
        "XAUUSD", "XAUUSD", "69067924", "0.01", "", "ACTIVETIM,AD,ALERT,ALGO,LMT,MKT,STP,STPLMT", "SMART,IBCMDTY", "1", "0",
        "London Gold Spot", "", "", "", "", "", "US/Eastern",
        "20260501:1800-20260502:1700;20260503:CLOSED", "20260501:1800-20260502:1700;20260503:CLOSED", "", "",
        "0", "1", "", "", "26,26", "", "", "1", "1", "1",
    ];
}
