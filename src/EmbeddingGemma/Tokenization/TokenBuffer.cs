namespace EmbeddingGemma.Tokenization;

/// <summary>A growable list of (id, start, end), reused per thread so encoding allocates only its result.</summary>
internal sealed class TokenBuffer
{
    public int[] Ids = new int[256];
    public int[] Starts = new int[256];
    public int[] Ends = new int[256];
    public int Count;

    public void Clear() => Count = 0;

    public void Add(int id, int start, int end)
    {
        if (Count == Ids.Length)
        {
            var n = Ids.Length * 2;
            Array.Resize(ref Ids, n);
            Array.Resize(ref Starts, n);
            Array.Resize(ref Ends, n);
        }
        Ids[Count] = id;
        Starts[Count] = start;
        Ends[Count] = end;
        Count++;
    }
}
