using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Model;

/// <summary>
/// y = x Wᵀ for W in PyTorch layout [out, in] of any stored type; no bias anywhere in EmbeddingGemma. Each row of W is
/// dequantized once (the same values the fast engine's kernels see) and every product accumulates in double.
/// </summary>
internal static class Linear
{
    public static void Forward(ReadOnlySpan<float> x, int rows, WeightMatrix w, Span<float> y, ParallelOptions parallel)
    {
        int inFeatures = w.Cols, outFeatures = w.Rows;
        if (x.Length < rows * inFeatures || y.Length < rows * outFeatures)
        {
            throw new ArgumentException($"Linear '{w.Name}': [{rows}, {inFeatures}] x [{outFeatures}, {inFeatures}]ᵀ does not fit the buffers.");
        }
        var xs = x[..(rows * inFeatures)].ToArray();
        var ys = new float[rows * outFeatures];
        Parallel.For(0, outFeatures, parallel, () => new float[inFeatures], (o, _, wr) =>
        {
            w.DequantizeRow(o, wr);
            for (var r = 0; r < rows; r++)
            {
                var xr = xs.AsSpan(r * inFeatures, inFeatures);
                double acc = 0;
                for (var i = 0; i < inFeatures; i++)
                {
                    acc += (double)xr[i] * wr[i];
                }
                ys[r * outFeatures + o] = (float)acc;
            }
            return wr;
        }, _ => { });
        ys.CopyTo(y);
    }
}
