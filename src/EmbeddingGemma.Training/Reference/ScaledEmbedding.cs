namespace EmbeddingGemma.Training.Reference;

/// <summary>
/// Op 1, token embedding with the Gemma scale: <c>h0[t] = s·E[id_t]</c>, s = sqrt(hidden) rounded to float32 as for
/// fp32 weights (HF <c>Gemma3TextScaledWordEmbedding</c>; spec §2.2). Backward: <c>dE[id_t] += s·dh0[t]</c>, touched
/// rows only (a repeated id accumulates; untouched rows, the pad row included, get nothing).
/// </summary>
public static class ScaledEmbedding
{
    /// <summary>The scale the model uses: (float)sqrt(hidden), as the core's reference and engine.</summary>
    public static double Scale(int hidden) => (float)Math.Sqrt(hidden);

    /// <summary><paramref name="h"/>[t, :] = <paramref name="scale"/> · <paramref name="table"/>[ids[t], :].</summary>
    public static void Forward(ReadOnlySpan<double> table, int hidden, ReadOnlySpan<int> ids, double scale, Span<double> h)
    {
        for (var t = 0; t < ids.Length; t++)
        {
            var row = table.Slice(ids[t] * hidden, hidden);
            var dst = h.Slice(t * hidden, hidden);
            for (var i = 0; i < hidden; i++)
            {
                dst[i] = scale * row[i];
            }
        }
    }

    /// <summary>Adds <paramref name="scale"/> · dh[t, :] to dTable[ids[t], :].</summary>
    public static void Backward(ReadOnlySpan<double> dh, int hidden, ReadOnlySpan<int> ids, double scale, Span<double> dTable)
    {
        for (var t = 0; t < ids.Length; t++)
        {
            var src = dh.Slice(t * hidden, hidden);
            var dst = dTable.Slice(ids[t] * hidden, hidden);
            for (var i = 0; i < hidden; i++)
            {
                dst[i] += scale * src[i];
            }
        }
    }
}
