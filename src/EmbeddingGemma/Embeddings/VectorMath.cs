namespace EmbeddingGemma.Embeddings;

/// <summary>Normalisation, Matryoshka truncation and similarity on embedding vectors.</summary>
public static class VectorMath
{
    /// <summary>y = x / max(||x||_2, 1e-12) in place (F.normalize p=2, ST Normalize module).</summary>
    public static void L2Normalize(Span<float> x)
    {
        double ss = 0;
        foreach (var v in x)
        {
            ss += (double)v * v;
        }
        var inv = 1.0 / Math.Max(Math.Sqrt(ss), 1e-12);
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)(x[i] * inv);
        }
    }

    /// <summary>Cosine similarity (double accumulation; 0 when either vector is zero).</summary>
    public static float Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Vectors of different lengths ({a.Length} and {b.Length}).");
        }
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }
        return na == 0 || nb == 0 ? 0f : (float)(dot / Math.Sqrt(na * nb));
    }

    /// <summary>Dot product (equals cosine for unit vectors).</summary>
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Vectors of different lengths ({a.Length} and {b.Length}).");
        }
        double dot = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
        }
        return (float)dot;
    }

    /// <summary>Cosine similarity matrix [a.Count, b.Count].</summary>
    public static float[,] CosineMatrix(IReadOnlyList<float[]> a, IReadOnlyList<float[]> b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var m = new float[a.Count, b.Count];
        for (var i = 0; i < a.Count; i++)
        {
            for (var j = 0; j < b.Count; j++)
            {
                m[i, j] = Cosine(a[i], b[j]);
            }
        }
        return m;
    }

    /// <summary>Matryoshka: keep the first <paramref name="dimensions"/> values, then re-normalise when asked (model card).</summary>
    public static float[] Truncate(ReadOnlySpan<float> vector, int dimensions, bool normalize)
    {
        if (dimensions < 1 || dimensions > vector.Length)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Dimensions must be between 1 and {vector.Length} (trained sizes 768, 512, 256, 128), got {dimensions}.");
        }
        var r = vector[..dimensions].ToArray();
        if (normalize)
        {
            L2Normalize(r);
        }
        return r;
    }
}
