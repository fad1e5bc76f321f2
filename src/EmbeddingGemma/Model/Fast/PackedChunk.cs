using EmbeddingGemma.Numerics.Attention;

namespace EmbeddingGemma.Model.Fast;

/// <summary>
/// Whole sequences packed into one chunk without padding, the layout both fast engines (<see cref="FastEncoder"/>,
/// <see cref="FastEncoder2"/>) run on: ids and positions per packed token, each sequence's offset, length and input
/// index, and its attention query blocks (<see cref="TiledAttention.BlockCount"/>). Each engine's workspace derives from
/// it and adds its activation buffers; <see cref="Plan"/> cuts a batch into chunks.
/// </summary>
internal abstract class PackedChunk
{
    protected PackedChunk(int tokens)
    {
        Tokens = tokens;
        Ids = new int[tokens];
        Position = new int[tokens];
        Offset = new int[tokens];
        Length = new int[tokens];
        Index = new int[tokens];
        BlockStart = new int[tokens];
        BlockSequence = new int[tokens];
    }

    /// <summary>Capacity in packed tokens.</summary>
    public int Tokens { get; }
    public int[] Ids { get; }
    public int[] Position { get; }
    public int[] Offset { get; }
    public int[] Length { get; }
    public int[] Index { get; }
    public int[] BlockStart { get; }
    public int[] BlockSequence { get; }
    public int Count { get; private set; }
    public int TokenCount { get; private set; }
    public int BlockTotal { get; private set; }

    /// <summary>Packs <paramref name="sequences"/>[<paramref name="order"/>[i]] one after the other (<paramref name="tokens"/> in all).</summary>
    public void SetChunk(IReadOnlyList<ReadOnlyMemory<int>> sequences, ReadOnlySpan<int> order, int tokens)
    {
        Count = order.Length;
        TokenCount = tokens;
        var off = 0;
        var blocks = 0;
        for (var c = 0; c < order.Length; c++)
        {
            var ids = sequences[order[c]].Span;
            Index[c] = order[c];
            Offset[c] = off;
            Length[c] = ids.Length;
            ids.CopyTo(Ids.AsSpan(off));
            for (var p = 0; p < ids.Length; p++)
            {
                Position[off + p] = p;
            }
            BlockStart[c] = blocks;
            var nb = TiledAttention.BlockCount(ids.Length);
            BlockSequence.AsSpan(blocks, nb).Fill(c);
            blocks += nb;
            off += ids.Length;
        }
        BlockTotal = blocks;
    }

    /// <summary>
    /// The chunks of a batch: sequences longest first (stable), cut into runs of whole sequences of at most
    /// <paramref name="chunkTokens"/> tokens (a longer sequence alone). <paramref name="order"/> is the sorted order;
    /// each chunk is (Start, End) in it and its token count; <paramref name="totalTokens"/> the batch's tokens.
    /// </summary>
    public static List<(int Start, int End, int Tokens)> Plan(IReadOnlyList<ReadOnlyMemory<int>> sequences, int chunkTokens, out int[] order, out int totalTokens)
    {
        var sorted = Enumerable.Range(0, sequences.Count).OrderByDescending(i => sequences[i].Length).ToArray();
        order = sorted;
        totalTokens = 0;
        foreach (var q in sequences)
        {
            totalTokens += q.Length;
        }
        var chunks = new List<(int, int, int)>();
        var start = 0;
        while (start < sorted.Length)
        {
            var end = start;
            var tokens = 0;
            while (end < sorted.Length && (end == start || tokens + sequences[sorted[end]].Length <= chunkTokens))
            {
                tokens += sequences[sorted[end]].Length;
                end++;
            }
            chunks.Add((start, end, tokens));
            start = end;
        }
        return chunks;
    }
}
