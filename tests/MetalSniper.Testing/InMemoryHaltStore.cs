using MetalSniper.Sentinel.Halts;

namespace MetalSniper.Testing;

/// <summary>A halts store in memory with the same chain rules as the SQLite one (the SQLite store itself is tested in the host tests).</summary>
public sealed class InMemoryHaltStore(TimeProvider? wall = null, ChainKeyring? keyring = null) : IHaltStore
{
    public ChainKeyring? Keyring => keyring;

    private readonly List<HaltRecord> _records = [];
    private readonly Lock _gate = new();

    public List<HaltRecord> Records
    {
        get
        {
            lock (_gate)
            {
                return [.. _records];
            }
        }
    }

    public IReadOnlyList<HaltRecord> Append(HaltDraft draft, long afterSequence, string? expectedTailHash = null)
    {
        lock (_gate)
        {
            if (expectedTailHash is not null && (_records.LastOrDefault()?.Hash ?? HaltChain.Genesis) != expectedTailHash)
            {
                throw new HaltStoreChangedException("the tail changed");
            }

            _records.Add(HaltChain.Next(_records.LastOrDefault(), draft, (wall ?? TimeProvider.System).GetUtcNow(), keyring));
            return _records.Where(r => r.Sequence > afterSequence).ToList();
        }
    }

    public IReadOnlyList<HaltRecord> ReadSince(long afterSequence)
    {
        lock (_gate)
        {
            return _records.Where(r => r.Sequence > afterSequence).ToList();
        }
    }

    public void Replace(int index, HaltRecord record)
    {
        lock (_gate)
        {
            _records[index] = record;
        }
    }
}
