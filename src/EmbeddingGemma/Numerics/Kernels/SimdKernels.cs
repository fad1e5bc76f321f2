using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EmbeddingGemma.Numerics.Kernels;

/// <summary>
/// The vector variants (128, 256 and 512 bits), written once over <see cref="ISimd{TVec}"/>. Tails shorter than a
/// vector run the scalar loop. Reductions use a fixed order for a given length.
/// </summary>
internal sealed class SimdKernels<TOps, TVec> : KernelSet
    where TOps : struct, ISimd<TVec>
    where TVec : struct
{
    private readonly KernelVariant _variant;

    public SimdKernels(KernelVariant variant) => _variant = variant;

    public static bool IsSupported => TOps.IsSupported;

    public override KernelVariant Variant => _variant;

    /// <inheritdoc />
    public override Int8GemmKernel Int8Gemm => _variant is KernelVariant.Vector256 or KernelVariant.Vector512
        && System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported ? Int8GemmKernel.Interleaved : Int8GemmKernel.RowDot;

    private static int W => TOps.Count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        Check.SameLength(x.Length, y.Length, nameof(y));
        return DotCore(ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(y), x.Length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float DotCore(ref float x, ref float y, int n)
    {
        var w = W;
        nuint i = 0;
        TVec s0 = TOps.Zero, s1 = TOps.Zero, s2 = TOps.Zero, s3 = TOps.Zero;
        for (; (int)i + 4 * w <= n; i += (nuint)(4 * w))
        {
            s0 = TOps.Fma(TOps.Load(in x, i), TOps.Load(in y, i), s0);
            s1 = TOps.Fma(TOps.Load(in x, i + (nuint)w), TOps.Load(in y, i + (nuint)w), s1);
            s2 = TOps.Fma(TOps.Load(in x, i + (nuint)(2 * w)), TOps.Load(in y, i + (nuint)(2 * w)), s2);
            s3 = TOps.Fma(TOps.Load(in x, i + (nuint)(3 * w)), TOps.Load(in y, i + (nuint)(3 * w)), s3);
        }
        for (; (int)i + w <= n; i += (nuint)w)
        {
            s0 = TOps.Fma(TOps.Load(in x, i), TOps.Load(in y, i), s0);
        }
        var s = TOps.Sum(TOps.Add(TOps.Add(s0, s1), TOps.Add(s2, s3)));
        for (; (int)i < n; i++)
        {
            s += Unsafe.Add(ref x, i) * Unsafe.Add(ref y, i);
        }
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override float SquaredDistance(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        Check.SameLength(x.Length, y.Length, nameof(y));
        ref var xr = ref MemoryMarshal.GetReference(x);
        ref var yr = ref MemoryMarshal.GetReference(y);
        var w = W;
        var n = x.Length;
        nuint i = 0;
        TVec s0 = TOps.Zero, s1 = TOps.Zero, s2 = TOps.Zero, s3 = TOps.Zero;
        for (; (int)i + 4 * w <= n; i += (nuint)(4 * w))
        {
            var d0 = TOps.Sub(TOps.Load(in xr, i), TOps.Load(in yr, i));
            var d1 = TOps.Sub(TOps.Load(in xr, i + (nuint)w), TOps.Load(in yr, i + (nuint)w));
            var d2 = TOps.Sub(TOps.Load(in xr, i + (nuint)(2 * w)), TOps.Load(in yr, i + (nuint)(2 * w)));
            var d3 = TOps.Sub(TOps.Load(in xr, i + (nuint)(3 * w)), TOps.Load(in yr, i + (nuint)(3 * w)));
            s0 = TOps.Fma(d0, d0, s0);
            s1 = TOps.Fma(d1, d1, s1);
            s2 = TOps.Fma(d2, d2, s2);
            s3 = TOps.Fma(d3, d3, s3);
        }
        for (; (int)i + w <= n; i += (nuint)w)
        {
            var d = TOps.Sub(TOps.Load(in xr, i), TOps.Load(in yr, i));
            s0 = TOps.Fma(d, d, s0);
        }
        var s = TOps.Sum(TOps.Add(TOps.Add(s0, s1), TOps.Add(s2, s3)));
        for (; (int)i < n; i++)
        {
            var d = Unsafe.Add(ref xr, i) - Unsafe.Add(ref yr, i);
            s += d * d;
        }
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override int DotInt8(ReadOnlySpan<sbyte> x, ReadOnlySpan<sbyte> y)
    {
        Check.SameLength(x.Length, y.Length, nameof(y));
        return TOps.DotInt8(ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(y), x.Length);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> destination)
    {
        Check.SameLength(x.Length, destination.Length, nameof(destination));
        ref var xr = ref MemoryMarshal.GetReference(x);
        ref var dr = ref MemoryMarshal.GetReference(destination);
        var av = TOps.Create(alpha);
        nuint i = 0;
        var n = x.Length;
        for (; (int)i + W <= n; i += (nuint)W)
        {
            TOps.Store(TOps.Fma(av, TOps.Load(in xr, i), TOps.Load(in dr, i)), ref dr, i);
        }
        for (; (int)i < n; i++)
        {
            Unsafe.Add(ref dr, i) = MathF.FusedMultiplyAdd(alpha, Unsafe.Add(ref xr, i), Unsafe.Add(ref dr, i));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Add(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> destination)
    {
        Check.SameLength(x.Length, y.Length, nameof(y));
        Check.SameLength(x.Length, destination.Length, nameof(destination));
        ref var xr = ref MemoryMarshal.GetReference(x);
        ref var yr = ref MemoryMarshal.GetReference(y);
        ref var dr = ref MemoryMarshal.GetReference(destination);
        nuint i = 0;
        var n = x.Length;
        for (; (int)i + W <= n; i += (nuint)W)
        {
            TOps.Store(TOps.Add(TOps.Load(in xr, i), TOps.Load(in yr, i)), ref dr, i);
        }
        for (; (int)i < n; i++)
        {
            Unsafe.Add(ref dr, i) = Unsafe.Add(ref xr, i) + Unsafe.Add(ref yr, i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Scale(ReadOnlySpan<float> x, float scale, Span<float> destination)
    {
        Check.SameLength(x.Length, destination.Length, nameof(destination));
        ScaleCore(ref MemoryMarshal.GetReference(x), scale, ref MemoryMarshal.GetReference(destination), x.Length);
    }

    private static void ScaleCore(ref float xr, float scale, ref float dr, int n)
    {
        var sv = TOps.Create(scale);
        nuint i = 0;
        for (; (int)i + W <= n; i += (nuint)W)
        {
            TOps.Store(TOps.Mul(TOps.Load(in xr, i), sv), ref dr, i);
        }
        for (; (int)i < n; i++)
        {
            Unsafe.Add(ref dr, i) = Unsafe.Add(ref xr, i) * scale;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override float Max(ReadOnlySpan<float> x)
    {
        ref var xr = ref MemoryMarshal.GetReference(x);
        var m = float.NegativeInfinity;
        nuint i = 0;
        var n = x.Length;
        if (n >= W)
        {
            var mv = TOps.Create(float.NegativeInfinity);
            for (; (int)i + W <= n; i += (nuint)W)
            {
                mv = TOps.Max(mv, TOps.Load(in xr, i));
            }
            m = TOps.MaxAcross(mv);
        }
        for (; (int)i < n; i++)
        {
            m = MathF.Max(m, Unsafe.Add(ref xr, i));
        }
        return m;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override float MaxAbs(ReadOnlySpan<float> x)
    {
        ref var xr = ref MemoryMarshal.GetReference(x);
        var m = 0f;
        nuint i = 0;
        var n = x.Length;
        if (n >= W)
        {
            var mv = TOps.Zero;
            for (; (int)i + W <= n; i += (nuint)W)
            {
                mv = TOps.Max(mv, TOps.Abs(TOps.Load(in xr, i)));
            }
            m = TOps.MaxAcross(mv);
        }
        for (; (int)i < n; i++)
        {
            m = MathF.Max(m, MathF.Abs(Unsafe.Add(ref xr, i)));
        }
        return m;
    }

    private static float InverseRms(ref float xr, int n, float eps)
    {
        if (n == 0)
        {
            return 0f;
        }
        var ss = DotCore(ref xr, ref xr, n);
        return 1f / MathF.Sqrt(ss / n + eps);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void RmsNormBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gain, float inverseRms, Span<float> gainGradient, Span<float> dx)
    {
        var n = x.Length;
        Check.SameLength(n, dy.Length, nameof(dy));
        Check.SameLength(n, gain.Length, nameof(gain));
        Check.SameLength(n, dx.Length, nameof(dx));
        var withGain = !gainGradient.IsEmpty;
        if (withGain)
        {
            Check.SameLength(n, gainGradient.Length, nameof(gainGradient));
        }
        ref var yr = ref MemoryMarshal.GetReference(dy);
        ref var xr = ref MemoryMarshal.GetReference(x);
        ref var gr = ref MemoryMarshal.GetReference(gain);
        ref var wr = ref MemoryMarshal.GetReference(gainGradient);
        ref var dr = ref MemoryMarshal.GetReference(dx);
        var r = inverseRms;
        var rv = TOps.Create(r);
        var acc = TOps.Zero;
        nuint i = 0;
        for (; (int)i + W <= n; i += (nuint)W)
        {
            var dyv = TOps.Load(in yr, i);
            var xh = TOps.Mul(TOps.Load(in xr, i), rv);
            acc = TOps.Fma(TOps.Mul(dyv, TOps.Load(in gr, i)), xh, acc);
            if (withGain)
            {
                TOps.Store(TOps.Fma(dyv, xh, TOps.Load(in wr, i)), ref wr, i);
            }
        }
        var dot = TOps.Sum(acc);
        for (; (int)i < n; i++)
        {
            var xh = Unsafe.Add(ref xr, i) * r;
            dot += Unsafe.Add(ref yr, i) * Unsafe.Add(ref gr, i) * xh;
            if (withGain)
            {
                Unsafe.Add(ref wr, i) += Unsafe.Add(ref yr, i) * xh;
            }
        }
        var mean = n == 0 ? 0f : dot / n;
        var mv = TOps.Create(r * mean);
        i = 0;
        for (; (int)i + W <= n; i += (nuint)W)
        {
            var t = TOps.Sub(TOps.Mul(TOps.Load(in yr, i), TOps.Load(in gr, i)), TOps.Mul(TOps.Load(in xr, i), mv));
            TOps.Store(TOps.Mul(t, rv), ref dr, i);
        }
        for (; (int)i < n; i++)
        {
            Unsafe.Add(ref dr, i) = r * (Unsafe.Add(ref yr, i) * Unsafe.Add(ref gr, i) - Unsafe.Add(ref xr, i) * r * mean);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> gain, float eps, Span<float> destination)
    {
        Check.SameLength(x.Length, gain.Length, nameof(gain));
        Check.SameLength(x.Length, destination.Length, nameof(destination));
        ref var xr = ref MemoryMarshal.GetReference(x);
        ref var gr = ref MemoryMarshal.GetReference(gain);
        ref var dr = ref MemoryMarshal.GetReference(destination);
        var n = x.Length;
        var r = InverseRms(ref xr, n, eps);
        var rv = TOps.Create(r);
        nuint i = 0;
        for (; (int)i + W <= n; i += (nuint)W)
        {
            TOps.Store(TOps.Mul(TOps.Mul(TOps.Load(in xr, i), rv), TOps.Load(in gr, i)), ref dr, i);
        }
        for (; (int)i < n; i++)
        {
            Unsafe.Add(ref dr, i) = Unsafe.Add(ref xr, i) * r * Unsafe.Add(ref gr, i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void RmsNormAddTo(ReadOnlySpan<float> x, ReadOnlySpan<float> gain, float eps, Span<float> residual)
    {
        Check.SameLength(x.Length, gain.Length, nameof(gain));
        Check.SameLength(x.Length, residual.Length, nameof(residual));
        ref var xr = ref MemoryMarshal.GetReference(x);
        ref var gr = ref MemoryMarshal.GetReference(gain);
        ref var dr = ref MemoryMarshal.GetReference(residual);
        var n = x.Length;
        var r = InverseRms(ref xr, n, eps);
        var rv = TOps.Create(r);
        nuint i = 0;
        for (; (int)i + W <= n; i += (nuint)W)
        {
            TOps.Store(TOps.Add(TOps.Load(in dr, i), TOps.Mul(TOps.Mul(TOps.Load(in xr, i), rv), TOps.Load(in gr, i))), ref dr, i);
        }
        for (; (int)i < n; i++)
        {
            Unsafe.Add(ref dr, i) += Unsafe.Add(ref xr, i) * r * Unsafe.Add(ref gr, i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void GeluTanhMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> destination)
    {
        Check.SameLength(gate.Length, up.Length, nameof(up));
        Check.SameLength(gate.Length, destination.Length, nameof(destination));
        ref var gr = ref MemoryMarshal.GetReference(gate);
        ref var ur = ref MemoryMarshal.GetReference(up);
        ref var dr = ref MemoryMarshal.GetReference(destination);
        var n = gate.Length;
        // gelu_tanh(g) = g·sigmoid(2u), u = √(2/π)(g + 0.044715 g³): the same function as ½g(1 + tanh u), with one exp.
        var c2 = TOps.Create(-2f * ScalarKernels.GeluC);
        var c3 = TOps.Create(0.044715f);
        var one = TOps.Create(1f);
        nuint i = 0;
        for (; (int)i + W <= n; i += (nuint)W)
        {
            var g = TOps.Load(in gr, i);
            var inner = TOps.Fma(TOps.Mul(TOps.Mul(g, g), c3), g, g);
            var e = TOps.Exp(TOps.Mul(inner, c2));
            var gel = TOps.Div(g, TOps.Add(one, e));
            TOps.Store(TOps.Mul(gel, TOps.Load(in ur, i)), ref dr, i);
        }
        for (; (int)i < n; i++)
        {
            var g = Unsafe.Add(ref gr, i);
            var e = MathF.Exp(-2f * ScalarKernels.GeluC * (g + 0.044715f * g * g * g));
            Unsafe.Add(ref dr, i) = g / (1f + e) * Unsafe.Add(ref ur, i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void GeluTanhMulBackward(ReadOnlySpan<float> da, ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> dGate, Span<float> dUp)
    {
        Check.SameLength(da.Length, gate.Length, nameof(gate));
        Check.SameLength(da.Length, up.Length, nameof(up));
        Check.SameLength(da.Length, dGate.Length, nameof(dGate));
        Check.SameLength(da.Length, dUp.Length, nameof(dUp));
        ref var ar = ref MemoryMarshal.GetReference(da);
        ref var gr = ref MemoryMarshal.GetReference(gate);
        ref var ur = ref MemoryMarshal.GetReference(up);
        ref var dgr = ref MemoryMarshal.GetReference(dGate);
        ref var dur = ref MemoryMarshal.GetReference(dUp);
        var n = da.Length;
        // with σ = sigmoid(2z) = ½(1 + tanh z): gelu = g·σ, gelu' = σ + 2g·σ(1 − σ)·z', z' = √(2/π)(1 + 0.134145 g²)
        var c2 = TOps.Create(-2f * ScalarKernels.GeluC);
        var c = TOps.Create(ScalarKernels.GeluC);
        var c3 = TOps.Create(0.044715f);
        var c4 = TOps.Create(0.134145f);
        var one = TOps.Create(1f);
        var two = TOps.Create(2f);
        nuint i = 0;
        for (; (int)i + W <= n; i += (nuint)W)
        {
            var g = TOps.Load(in gr, i);
            var a = TOps.Load(in ar, i);
            var g2 = TOps.Mul(g, g);
            var inner = TOps.Fma(TOps.Mul(g2, c3), g, g);
            var sg = TOps.Div(one, TOps.Add(one, TOps.Exp(TOps.Mul(inner, c2))));
            var dz = TOps.Mul(c, TOps.Fma(g2, c4, one));
            var dgelu = TOps.Add(sg, TOps.Mul(TOps.Mul(TOps.Mul(two, g), TOps.Mul(sg, TOps.Sub(one, sg))), dz));
            TOps.Store(TOps.Mul(a, TOps.Mul(g, sg)), ref dur, i);
            TOps.Store(TOps.Mul(TOps.Mul(a, TOps.Load(in ur, i)), dgelu), ref dgr, i);
        }
        for (; (int)i < n; i++)
        {
            var g = Unsafe.Add(ref gr, i);
            var a = Unsafe.Add(ref ar, i);
            var sg = 1f / (1f + MathF.Exp(-2f * ScalarKernels.GeluC * (g + 0.044715f * g * g * g)));
            var dgelu = sg + 2f * g * sg * (1f - sg) * ScalarKernels.GeluC * (1f + 0.134145f * g * g);
            Unsafe.Add(ref dur, i) = a * g * sg;
            Unsafe.Add(ref dgr, i) = a * Unsafe.Add(ref ur, i) * dgelu;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void RopeNeox(Span<float> x, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        var h = cos.Length;
        Check.SameLength(h, sin.Length, nameof(sin));
        Check.SameLength(2 * h, x.Length, nameof(x));
        ref var lo = ref MemoryMarshal.GetReference(x);
        ref var hi = ref Unsafe.Add(ref lo, h);
        ref var cr = ref MemoryMarshal.GetReference(cos);
        ref var sr = ref MemoryMarshal.GetReference(sin);
        nuint i = 0;
        for (; (int)i + W <= h; i += (nuint)W)
        {
            var a = TOps.Load(in lo, i);
            var b = TOps.Load(in hi, i);
            var c = TOps.Load(in cr, i);
            var s = TOps.Load(in sr, i);
            TOps.Store(TOps.Sub(TOps.Mul(a, c), TOps.Mul(b, s)), ref lo, i);
            TOps.Store(TOps.Add(TOps.Mul(b, c), TOps.Mul(a, s)), ref hi, i);
        }
        for (; (int)i < h; i++)
        {
            float a = Unsafe.Add(ref lo, i), b = Unsafe.Add(ref hi, i), c = Unsafe.Add(ref cr, i), s = Unsafe.Add(ref sr, i);
            Unsafe.Add(ref lo, i) = a * c - b * s;
            Unsafe.Add(ref hi, i) = b * c + a * s;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override float ExpShifted(ReadOnlySpan<float> x, float shift, Span<float> destination)
    {
        Check.SameLength(x.Length, destination.Length, nameof(destination));
        ref var xr = ref MemoryMarshal.GetReference(x);
        ref var dr = ref MemoryMarshal.GetReference(destination);
        var n = x.Length;
        var sh = TOps.Create(shift);
        var acc = TOps.Zero;
        nuint i = 0;
        for (; (int)i + W <= n; i += (nuint)W)
        {
            var e = TOps.Exp(TOps.Sub(TOps.Load(in xr, i), sh));
            TOps.Store(e, ref dr, i);
            acc = TOps.Add(acc, e);
        }
        var s = TOps.Sum(acc);
        for (; (int)i < n; i++)
        {
            var e = MathF.Exp(Unsafe.Add(ref xr, i) - shift);
            Unsafe.Add(ref dr, i) = e;
            s += e;
        }
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void GemmTile(ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> w, int ldw, Span<float> c, int ldc, int m, int n, int k)
    {
        CheckGemm(a.Length, lda, w.Length, ldw, c.Length, ldc, m, n, k);
        ref var ar = ref MemoryMarshal.GetReference(a);
        ref var wr = ref MemoryMarshal.GetReference(w);
        ref var cr = ref MemoryMarshal.GetReference(c);
        var i = 0;
        for (; i + 4 <= m; i += 4)
        {
            var j = 0;
            for (; j + 3 <= n; j += 3)
            {
                Tile4x3(ref Unsafe.Add(ref ar, (nint)i * lda), lda, ref Unsafe.Add(ref wr, (nint)j * ldw), ldw, ref Unsafe.Add(ref cr, (nint)i * ldc + j), ldc, k);
            }
            for (; j < n; j++)
            {
                Tile4x1(ref Unsafe.Add(ref ar, (nint)i * lda), lda, ref Unsafe.Add(ref wr, (nint)j * ldw), ref Unsafe.Add(ref cr, (nint)i * ldc + j), ldc, k);
            }
        }
        for (; i < m; i++)
        {
            var j = 0;
            for (; j + 3 <= n; j += 3)
            {
                Tile1x3(ref Unsafe.Add(ref ar, (nint)i * lda), ref Unsafe.Add(ref wr, (nint)j * ldw), ldw, ref Unsafe.Add(ref cr, (nint)i * ldc + j), k);
            }
            for (; j < n; j++)
            {
                Unsafe.Add(ref cr, (nint)i * ldc + j) = Dot1(ref Unsafe.Add(ref ar, (nint)i * lda), ref Unsafe.Add(ref wr, (nint)j * ldw), k);
            }
        }
    }

    /// <inheritdoc/>
    public override void GemmPacked(ReadOnlySpan<float> a, int aRowStride, int aColStride, ReadOnlySpan<float> b, int bRowStride, int bColStride,
        Span<float> c, int ldc, int m, int n, int k, bool accumulate)
    {
        CheckGemmPacked(a.Length, aRowStride, aColStride, b.Length, bRowStride, bColStride, c.Length, ldc, m, n, k);
        if (m == 0 || n == 0)
        {
            return;
        }
        if (k == 0)
        {
            if (!accumulate)
            {
                for (var i = 0; i < m; i++)
                {
                    c.Slice(i * ldc, n).Clear();
                }
            }
            return;
        }
        PackedGemm<TOps, TVec>.Run(a, aRowStride, aColStride, b, bRowStride, bColStride, c, ldc, m, n, k, accumulate);
    }

    // Four rows × one column with independent accumulators: per output exactly Dot1's operations.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1(ref float a0, int lda, ref float w0, ref float c0, int ldc, int k)
    {
        ref var a1 = ref Unsafe.Add(ref a0, lda);
        ref var a2 = ref Unsafe.Add(ref a0, 2 * lda);
        ref var a3 = ref Unsafe.Add(ref a0, 3 * lda);
        TVec c00 = TOps.Zero, c10 = TOps.Zero, c20 = TOps.Zero, c30 = TOps.Zero;
        nuint t = 0;
        for (; (int)t + W <= k; t += (nuint)W)
        {
            var v0 = TOps.Load(in w0, t);
            c00 = TOps.Fma(TOps.Load(in a0, t), v0, c00);
            c10 = TOps.Fma(TOps.Load(in a1, t), v0, c10);
            c20 = TOps.Fma(TOps.Load(in a2, t), v0, c20);
            c30 = TOps.Fma(TOps.Load(in a3, t), v0, c30);
        }
        c0 = Tail(TOps.Sum(c00), ref a0, ref w0, t, k);
        Unsafe.Add(ref c0, ldc) = Tail(TOps.Sum(c10), ref a1, ref w0, t, k);
        Unsafe.Add(ref c0, 2 * ldc) = Tail(TOps.Sum(c20), ref a2, ref w0, t, k);
        Unsafe.Add(ref c0, 3 * ldc) = Tail(TOps.Sum(c30), ref a3, ref w0, t, k);
    }

    // One row × three columns with independent accumulators: per output exactly Dot1's operations.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x3(ref float a0, ref float w0, int ldw, ref float c0, int k)
    {
        ref var w1 = ref Unsafe.Add(ref w0, ldw);
        ref var w2 = ref Unsafe.Add(ref w0, 2 * ldw);
        TVec c00 = TOps.Zero, c01 = TOps.Zero, c02 = TOps.Zero;
        nuint t = 0;
        for (; (int)t + W <= k; t += (nuint)W)
        {
            var x = TOps.Load(in a0, t);
            c00 = TOps.Fma(x, TOps.Load(in w0, t), c00);
            c01 = TOps.Fma(x, TOps.Load(in w1, t), c01);
            c02 = TOps.Fma(x, TOps.Load(in w2, t), c02);
        }
        c0 = Tail(TOps.Sum(c00), ref a0, ref w0, t, k);
        Unsafe.Add(ref c0, 1) = Tail(TOps.Sum(c01), ref a0, ref w1, t, k);
        Unsafe.Add(ref c0, 2) = Tail(TOps.Sum(c02), ref a0, ref w2, t, k);
    }

    // One output: a single vector accumulator over k, then the tail. Tile4x3 does exactly this per output.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot1(ref float a, ref float w, int k)
    {
        var acc = TOps.Zero;
        nuint t = 0;
        for (; (int)t + W <= k; t += (nuint)W)
        {
            acc = TOps.Fma(TOps.Load(in a, t), TOps.Load(in w, t), acc);
        }
        return Tail(TOps.Sum(acc), ref a, ref w, t, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Tail(float s, ref float a, ref float w, nuint t, int k)
    {
        for (; (int)t < k; t++)
        {
            s = MathF.FusedMultiplyAdd(Unsafe.Add(ref a, t), Unsafe.Add(ref w, t), s);
        }
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x3(ref float a0, int lda, ref float w0, int ldw, ref float c0, int ldc, int k)
    {
        ref var a1 = ref Unsafe.Add(ref a0, lda);
        ref var a2 = ref Unsafe.Add(ref a0, 2 * lda);
        ref var a3 = ref Unsafe.Add(ref a0, 3 * lda);
        ref var w1 = ref Unsafe.Add(ref w0, ldw);
        ref var w2 = ref Unsafe.Add(ref w0, 2 * ldw);
        TVec c00 = TOps.Zero, c01 = TOps.Zero, c02 = TOps.Zero;
        TVec c10 = TOps.Zero, c11 = TOps.Zero, c12 = TOps.Zero;
        TVec c20 = TOps.Zero, c21 = TOps.Zero, c22 = TOps.Zero;
        TVec c30 = TOps.Zero, c31 = TOps.Zero, c32 = TOps.Zero;
        nuint t = 0;
        for (; (int)t + W <= k; t += (nuint)W)
        {
            var v0 = TOps.Load(in w0, t);
            var v1 = TOps.Load(in w1, t);
            var v2 = TOps.Load(in w2, t);
            var x = TOps.Load(in a0, t);
            c00 = TOps.Fma(x, v0, c00); c01 = TOps.Fma(x, v1, c01); c02 = TOps.Fma(x, v2, c02);
            x = TOps.Load(in a1, t);
            c10 = TOps.Fma(x, v0, c10); c11 = TOps.Fma(x, v1, c11); c12 = TOps.Fma(x, v2, c12);
            x = TOps.Load(in a2, t);
            c20 = TOps.Fma(x, v0, c20); c21 = TOps.Fma(x, v1, c21); c22 = TOps.Fma(x, v2, c22);
            x = TOps.Load(in a3, t);
            c30 = TOps.Fma(x, v0, c30); c31 = TOps.Fma(x, v1, c31); c32 = TOps.Fma(x, v2, c32);
        }
        ref var r1 = ref Unsafe.Add(ref c0, ldc);
        ref var r2 = ref Unsafe.Add(ref c0, 2 * ldc);
        ref var r3 = ref Unsafe.Add(ref c0, 3 * ldc);
        c0 = Tail(TOps.Sum(c00), ref a0, ref w0, t, k);
        Unsafe.Add(ref c0, 1) = Tail(TOps.Sum(c01), ref a0, ref w1, t, k);
        Unsafe.Add(ref c0, 2) = Tail(TOps.Sum(c02), ref a0, ref w2, t, k);
        r1 = Tail(TOps.Sum(c10), ref a1, ref w0, t, k);
        Unsafe.Add(ref r1, 1) = Tail(TOps.Sum(c11), ref a1, ref w1, t, k);
        Unsafe.Add(ref r1, 2) = Tail(TOps.Sum(c12), ref a1, ref w2, t, k);
        r2 = Tail(TOps.Sum(c20), ref a2, ref w0, t, k);
        Unsafe.Add(ref r2, 1) = Tail(TOps.Sum(c21), ref a2, ref w1, t, k);
        Unsafe.Add(ref r2, 2) = Tail(TOps.Sum(c22), ref a2, ref w2, t, k);
        r3 = Tail(TOps.Sum(c30), ref a3, ref w0, t, k);
        Unsafe.Add(ref r3, 1) = Tail(TOps.Sum(c31), ref a3, ref w1, t, k);
        Unsafe.Add(ref r3, 2) = Tail(TOps.Sum(c32), ref a3, ref w2, t, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void QuantizeRowQ8(ReadOnlySpan<float> x, Span<sbyte> quants, Span<float> scales)
    {
        if (x.Length % 32 != 0)
        {
            throw new ArgumentException($"Q8 rows need a multiple of 32 values, got {x.Length}.", nameof(x));
        }
        Check.SameLength(x.Length, quants.Length, nameof(quants));
        Check.SameLength(x.Length / 32, scales.Length, nameof(scales));
        ref var xr = ref MemoryMarshal.GetReference(x);
        for (var b = 0; b < scales.Length; b++)
        {
            ref var blk = ref Unsafe.Add(ref xr, 32 * b);
            var amax = 0f;
            if (Avx.IsSupported)
            {
                var m = Vector256.Abs(Vector256.LoadUnsafe(in blk));
                for (nuint t = 8; t < 32; t += 8)
                {
                    m = Vector256.Max(m, Vector256.Abs(Vector256.LoadUnsafe(in blk, t)));
                }
                amax = Simd256.MaxAcross(m);
                scales[b] = (float)(Half)(amax / 127f);
                var id = Vector256.Create(amax != 0f ? 127f / amax : 0f);
                for (nuint t = 0; t < 32; t += 8)
                {
                    // Multiply then round half to even, as llama.cpp's AVX2 quantize_row_q8_0 (_MM_ROUND_NEAREST).
                    var q = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(Vector256.LoadUnsafe(in blk, t) * id));
                    for (var u = 0; u < 8; u++)
                    {
                        quants[32 * b + (int)t + u] = (sbyte)q.GetElement(u);
                    }
                }
            }
            else
            {
                for (var t = 0; t < 32; t++)
                {
                    amax = MathF.Max(amax, MathF.Abs(Unsafe.Add(ref blk, t)));
                }
                scales[b] = (float)(Half)(amax / 127f);
                var id = amax != 0f ? 127f / amax : 0f;
                for (var t = 0; t < 32; t++)
                {
                    quants[32 * b + t] = (sbyte)MathF.Round(Unsafe.Add(ref blk, t) * id, MidpointRounding.ToEven);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void GemmQ8Tile(ReadOnlySpan<sbyte> aq, ReadOnlySpan<float> ad, ReadOnlySpan<sbyte> wq, ReadOnlySpan<float> wd, Span<float> c, int ldc, int m, int n, int k)
    {
        CheckQ8(aq.Length, ad.Length, wq.Length, wd.Length, c.Length, ldc, m, n, k);
        if (W >= 8 && Avx2.IsSupported && Fma.IsSupported)
        {
            Q8Avx2.Gemm(aq, ad, wq, wd, c, ldc, m, n, k);
        }
        else
        {
            Q8Vector128.Gemm(aq, ad, wq, wd, c, ldc, m, n, k);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Bf16ToSingle(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        Check.SameLength(source.Length, destination.Length, nameof(destination));
        ref var sr = ref MemoryMarshal.GetReference(source);
        ref var dr = ref MemoryMarshal.GetReference(destination);
        var n = source.Length;
        nuint i = 0;
        for (; (int)i + 8 <= n; i += 8)
        {
            var v = Vector128.LoadUnsafe(in sr, i);
            var lo = Vector128.ShiftLeft(Vector128.WidenLower(v), 16).AsSingle();
            var hi = Vector128.ShiftLeft(Vector128.WidenUpper(v), 16).AsSingle();
            lo.StoreUnsafe(ref dr, i);
            hi.StoreUnsafe(ref dr, i + 4);
        }
        for (; (int)i < n; i++)
        {
            Unsafe.Add(ref dr, i) = BitConverter.Int32BitsToSingle(Unsafe.Add(ref sr, i) << 16);
        }
    }
}
