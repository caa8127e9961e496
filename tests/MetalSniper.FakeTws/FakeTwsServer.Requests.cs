using System.Globalization;
using Microsoft.Extensions.Logging;

namespace MetalSniper.FakeTws;

public sealed partial class FakeTwsServer
{
    /// <summary>Handles one client frame: log it, count it for pacing, parse it by position (§4.1), answer it.</summary>
    internal void OnRequest(FakeTwsSession session, string[] fields)
    {
        lock (_gate)
        {
            var messageId = fields.Length > 0 && int.TryParse(fields[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id) ? id : -1;
            _requests.Add(new FakeTwsRequest(session.ConnectionId, session.ClientId, messageId, fields, Now));
            if (session.IsClosing || !CheckPacingLocked(session))
            {
                return;
            }

            var idForErrors = -1;
            try
            {
                var reader = new RequestReader(fields, 1);
                switch (messageId)
                {
                    case 71: // startApi again: TWS ignores it
                        _logger.LogWarning("Fake TWS: client {ClientId} sent startApi twice", session.ClientId);
                        break;
                    case 49:
                        reader.Int("version");
                        Send(session, new FrameBuilder(49).Add(1).Add(Now.ToUnixTimeSeconds()));
                        break;
                    case 8:
                        reader.Int("version");
                        reader.Int("numIds");
                        Send(session, new FrameBuilder(9).Add(1).Add(_nextValidId));
                        break;
                    case 17:
                        reader.Int("version");
                        Send(session, new FrameBuilder(15).Add(1).Add(string.Join(',', Options.Accounts)));
                        break;
                    case 59:
                        HandleMarketDataType(session, reader);
                        break;
                    case 1:
                        reader.Int("version");
                        idForErrors = reader.Int("reqId");
                        HandleReqMktData(session, reader, idForErrors);
                        break;
                    case 2:
                        reader.Int("version");
                        idForErrors = reader.Int("reqId");
                        HandleCancelMktData(session, idForErrors);
                        break;
                    case 9:
                        reader.Int("version");
                        idForErrors = reader.Int("reqId");
                        HandleReqContractDetails(session, reader, idForErrors);
                        break;
                    case 3:
                        idForErrors = reader.Int("orderId");
                        HandlePlaceOrder(session, reader, idForErrors, fields.Length);
                        break;
                    case 4:
                        reader.Int("version");
                        idForErrors = reader.Int("orderId");
                        reader.String("manualOrderCancelTime");
                        HandleCancelOrder(session, idForErrors);
                        break;
                    case 58:
                        reader.Int("version");
                        HandleGlobalCancel();
                        break;
                    case 5:
                        reader.Int("version");
                        HandleOpenOrders(session, all: session.ClientId == 0);
                        break;
                    case 16:
                        reader.Int("version");
                        HandleOpenOrders(session, all: true);
                        break;
                    case 15:
                        reader.Int("version");
                        reader.Bool("autoBind");
                        break;
                    case 99:
                        HandleCompletedOrders(session, reader.Bool("apiOnly"));
                        break;
                    case 7:
                        reader.Int("version");
                        idForErrors = reader.Int("reqId");
                        HandleReqExecutions(session, reader, idForErrors);
                        break;
                    case 61:
                        reader.Int("version");
                        HandleReqPositions(session);
                        break;
                    case 64:
                        reader.Int("version");
                        session.PositionsSubscribed = false;
                        break;
                    case 62:
                        reader.Int("version");
                        idForErrors = reader.Int("reqId");
                        HandleReqAccountSummary(session, reader, idForErrors);
                        break;
                    case 63:
                        reader.Int("version");
                        session.AccountSummaries.Remove(reader.Int("reqId"));
                        break;
                    case 6:
                        reader.Int("version");
                        HandleReqAccountUpdates(session, reader.Bool("subscribe"), reader.String("acctCode"));
                        break;
                    case 20:
                        idForErrors = reader.Int("reqId");
                        HandleReqHistoricalData(session, reader, idForErrors);
                        break;
                    case 25:
                        reader.Int("version");
                        idForErrors = reader.Int("reqId");
                        if (!session.Historical.Remove(idForErrors))
                        {
                            _logger.LogDebug("Fake TWS: cancelHistoricalData for unknown reqId {ReqId}", idForErrors);
                        }

                        break;
                    case 50:
                        reader.Int("version");
                        idForErrors = reader.Int("reqId");
                        HandleReqRealTimeBars(session, reader, idForErrors);
                        break;
                    case 51:
                        reader.Int("version");
                        session.RealTimeBars.Remove(reader.Int("reqId"));
                        break;
                    default:
                        _logger.LogWarning("Fake TWS: unknown message id {MessageId} from client {ClientId} skipped: {Fields}", messageId, session.ClientId, string.Join('|', fields));
                        return;
                }

                if (reader.Remaining > 0 && messageId != 3)
                {
                    _logger.LogDebug("Fake TWS: message {MessageId} had {Extra} trailing fields, ignored", messageId, reader.Remaining);
                }
            }
            catch (TwsRequestException ex)
            {
                _logger.LogWarning("Fake TWS: request {Fields} from client {ClientId} rejected with {Code}: {Message}", string.Join('|', fields), session.ClientId, ex.Code, ex.Message);
                SendErrorLocked(session, idForErrors, ex.Code, ex.Message);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                RecordInternalError(ex);
                _logger.LogError(ex, "Fake TWS: internal error handling {Fields}", string.Join('|', fields));
                SendErrorLocked(session, idForErrors, 322, "Error processing request: internal error in the fake TWS: " + ex.Message);
            }
        }
    }

    /// <summary>Reads the 12-field contract block of §4.1 ("C12").</summary>
    private static ContractQuery ReadContract(RequestReader reader) => new(
        reader.Int("conId"),
        reader.String("symbol"),
        reader.String("secType"),
        reader.String("lastTradeDateOrContractMonth"),
        reader.Double("strike"),
        reader.String("right"),
        reader.String("multiplier"),
        reader.String("exchange"),
        reader.String("primaryExchange"),
        reader.String("currency"),
        reader.String("localSymbol"),
        reader.String("tradingClass"));

    private void HandleMarketDataType(FakeTwsSession session, RequestReader reader)
    {
        reader.Int("version");
        var type = reader.Int("marketDataType");
        if (type is < 1 or > 4)
        {
            throw new TwsRequestException(321, $"Error validating request: market data type must be 1..4, was {type}");
        }

        session.MarketDataType = type;
    }

    private void HandleReqContractDetails(FakeTwsSession session, RequestReader reader, int reqId)
    {
        var query = new ContractQuery(
            reader.Int("conId"),
            reader.String("symbol"),
            reader.String("secType"),
            reader.String("lastTradeDateOrContractMonth"),
            reader.Double("strike"),
            reader.String("right"),
            reader.String("multiplier"),
            reader.String("exchange"),
            reader.String("primaryExchange"),
            reader.String("currency"),
            reader.String("localSymbol"),
            reader.String("tradingClass"));
        reader.Bool("includeExpired");
        reader.String("secIdType");
        reader.String("secId");
        reader.String("issuerId");
        var matches = MatchContracts(query);
        if (matches.Count == 0)
        {
            SendErrorLocked(session, reqId, 200, "No security definition has been found for the request");
            return;
        }

        foreach (var contract in matches)
        {
            Send(session, Frames.ContractDetails(reqId, contract, Now, TimeZoneFor(contract)));
        }

        Send(session, new FrameBuilder(52).Add(1).Add(reqId));
    }

    private TimeZoneInfo TimeZoneFor(FakeContract contract)
    {
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(contract.TimeZoneId);
        }
        catch (TimeZoneNotFoundException)
        {
            return _timeZone;
        }
    }

    /// <summary>Resolves a contract query, or answers error 200 and returns null (§4.4: unknown or ambiguous).</summary>
    private FakeContract? ResolveOrError(FakeTwsSession session, int id, ContractQuery query)
    {
        var matches = MatchContracts(query);
        if (matches.Count == 1)
        {
            return matches[0];
        }

        var text = matches.Count == 0
            ? "No security definition has been found for the request"
            : $"The contract description specified for {query.Symbol} is ambiguous.";
        SendErrorLocked(session, id, 200, text);
        return null;
    }
}

/// <summary>The contract fields of a request (§4.1 C12).</summary>
internal sealed record ContractQuery(
    int ConId, string Symbol, string SecType, string LastTradeDateOrContractMonth, double? Strike, string Right,
    string Multiplier, string Exchange, string PrimaryExchange, string Currency, string LocalSymbol, string TradingClass);
