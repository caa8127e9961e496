using MetalSniper.Core.Costs;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.Money;
using MetalSniper.Engine.Alerts;
using MetalSniper.Persistence;
using MetalSniper.Persistence.Journal;

namespace MetalSniper.Engine.Pipeline;

/// <summary>How the book is valued: the instruments, the exit-cost estimate, FX (fails closed) and the account's base currency.</summary>
/// <param name="Instruments">The instrument catalog (tick size, multiplier, currency).</param>
/// <param name="Costs">Expected exit cost per unit (spread, slippage, commission), for the locked-profit rule.</param>
/// <param name="Fx">Converts instrument-currency amounts; never reads a missing rate as 1.0.</param>
/// <param name="Account">The base currency of every P&amp;L, limit and breaker figure.</param>
public sealed record BookValuation(IInstrumentCatalog Instruments, CostEstimator Costs, FxConverter Fx, AccountCurrency Account);

/// <summary>Where the hands record what they do, in this order: the journal (write-ahead), the database, the alert hub.</summary>
/// <param name="Journal">The hash-chained decision journal.</param>
/// <param name="Writer">The one batched SQLite writer.</param>
/// <param name="Alerts">Alerts to the operator (journaled, then delivered).</param>
public sealed record ExecutionRecorders(DecisionJournal Journal, PersistenceWriter Writer, AlertHub Alerts);
