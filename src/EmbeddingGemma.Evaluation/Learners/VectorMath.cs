using System.Numerics;
using System.Runtime.InteropServices;

namespace EmbeddingGemma.Evaluation.Learners;

/// <summary>Small SIMD helpers (System.Numerics.Vector) for the evaluation's own learners and similarity loops.</summary>
public static class VectorMath
{
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int n = a.Length, i = 0;
        var acc = Vector<float>.Zero;
        if (Vector.IsHardwareAccelerated)
        {
            var va = MemoryMarshal.Cast<float, Vector<float>>(a);
            var vb = MemoryMarshal.Cast<float, Vector<float>>(b[..n]);
            for (int v = 0; v < va.Length; v++)
            {
                acc += va[v] * vb[v];
            }
            i = va.Length * Vector<float>.Count;
        }
        float s = Vector.Sum(acc);
        for (; i < n; i++)
        {
            s += a[i] * b[i];
        }
        return s;
    }

    /// <summary>y += alpha * x.</summary>
    public static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> y)
    {
        int n = x.Length, i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vx = MemoryMarshal.Cast<float, Vector<float>>(x);
            var vy = MemoryMarshal.Cast<float, Vector<float>>(y[..n]);
            var va = new Vector<float>(alpha);
            for (int v = 0; v < vx.Length; v++)
            {
                vy[v] += va * vx[v];
            }
            i = vx.Length * Vector<float>.Count;
        }
        for (; i < n; i++)
        {
            y[i] += alpha * x[i];
        }
    }

    public static float SquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float s = 0;
        for (int i = 0; i < a.Length; i++)
        {
            float d = a[i] - b[i];
            s += d * d;
        }
        return s;
    }

    /// <summary>Cosine similarity; 0 when either vector is all zeros.</summary>
    public static float Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float ab = Dot(a, b), aa = Dot(a, a), bb = Dot(b, b);
        return aa == 0 || bb == 0 ? 0 : ab / MathF.Sqrt(aa * bb);
    }

    /// <summary>First <paramref name="dimensions"/> components, L2-renormalised (Matryoshka: truncate, then renormalise).
    /// A zero vector stays zero.</summary>
    public static float[] TruncateNormalize(ReadOnlySpan<float> v, int dimensions)
    {
        var r = v[..Math.Min(dimensions, v.Length)].ToArray();
        float norm = MathF.Sqrt(Dot(r, r));
        if (norm > 0)
        {
            for (int i = 0; i < r.Length; i++)
            {
                r[i] /= norm;
            }
        }
        return r;
    }
}
