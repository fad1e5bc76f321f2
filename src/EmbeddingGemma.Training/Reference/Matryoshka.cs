namespace EmbeddingGemma.Training.Reference;

/// <summary>
/// Op 15, Matryoshka truncate-and-renormalize <c>y_k = normalize(y[:k])</c> (model card: "truncate then re-normalize";
/// the core's <c>VectorOps.Truncate</c>). Backward: <c>dy[:k] += (dy_k − y_k(y_k·dy_k)) / ‖y[:k]‖</c>, i.e. op 14 on the
/// prefix; entries past k get nothing. (sentence-transformers' <c>MatryoshkaLoss</c> only slices; its cosine-based
/// losses then normalize, which is the same thing: see <see cref="Losses.MatryoshkaLoss"/>.)
/// </summary>
public static class Matryoshka
{
    /// <summary>Writes the k-dimensional unit vector into <paramref name="yk"/>; returns ‖y[:k]‖.</summary>
    public static double Forward(ReadOnlySpan<double> y, int k, Span<double> yk) => L2Normalize.Forward(y[..k], yk);

    /// <summary>Adds to the first k entries of <paramref name="dy"/>.</summary>
    public static void Backward(ReadOnlySpan<double> dyk, ReadOnlySpan<double> yk, double prefixNorm, Span<double> dy) =>
        L2Normalize.Backward(dyk, yk, prefixNorm, dy[..yk.Length]);
}
