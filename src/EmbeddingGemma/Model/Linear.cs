namespace EmbeddingGemma.Model;

/// <summary>y = x W^T for W in PyTorch layout [out, in]; no bias anywhere in EmbeddingGemma. Double accumulation.</summary>
internal static class Linear
{
    public static void Forward(ReadOnlySpan<float> x, int rows, float[] w, int inFeatures, int outFeatures, Span<float> y)
    {
        if (x.Length < rows * inFeatures || y.Length < rows * outFeatures || w.Length != inFeatures * outFeatures)
        {
            throw new ArgumentException("Linear: shape mismatch.");
        }
        var xs = x[..(rows * inFeatures)].ToArray();
        var ys = new float[rows * outFeatures];
        Parallel.For(0, rows, ReferenceEncoder.ParallelOptions, r =>
        {
            var xr = xs.AsSpan(r * inFeatures, inFeatures);
            for (var o = 0; o < outFeatures; o++)
            {
                var wr = w.AsSpan(o * inFeatures, inFeatures);
                double acc = 0;
                for (var i = 0; i < inFeatures; i++)
                {
                    acc += (double)xr[i] * wr[i];
                }
                ys[r * outFeatures + o] = (float)acc;
            }
        });
        ys.CopyTo(y);
    }
}
