namespace EmbeddingGemma.Numerics.Kernels;

/// <summary>The reference: plain loops in float32, in element order. Every other variant is tested against it.</summary>
public sealed class ScalarKernels : KernelSet
{
    /// <summary>√(2/π), the GELU-tanh constant.</summary>
    internal const float GeluC = 0.7978845608028654f;

    /// <inheritdoc/>
    public override KernelVariant Variant => KernelVariant.Scalar;

    /// <inheritdoc/>
    public override float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        Check.SameLength(x.Length, y.Length, nameof(y));
        var s = 0f;
        for (var i = 0; i < x.Length; i++)
        {
            s += x[i] * y[i];
        }
        return s;
    }

    /// <inheritdoc/>
    public override float SquaredDistance(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        Check.SameLength(x.Length, y.Length, nameof(y));
        var s = 0f;
        for (var i = 0; i < x.Length; i++)
        {
            var d = x[i] - y[i];
            s += d * d;
        }
        return s;
    }

    /// <inheritdoc/>
    public override int DotInt8(ReadOnlySpan<sbyte> x, ReadOnlySpan<sbyte> y)
    {
        Check.SameLength(x.Length, y.Length, nameof(y));
        var s = 0;
        for (var i = 0; i < x.Length; i++)
        {
            s += x[i] * y[i];
        }
        return s;
    }

    /// <inheritdoc/>
    public override void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> destination)
    {
        Check.SameLength(x.Length, destination.Length, nameof(destination));
        for (var i = 0; i < x.Length; i++)
        {
            destination[i] += alpha * x[i];
        }
    }

    /// <inheritdoc/>
    public override void Add(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> destination)
    {
        Check.SameLength(x.Length, y.Length, nameof(y));
        Check.SameLength(x.Length, destination.Length, nameof(destination));
        for (var i = 0; i < x.Length; i++)
        {
            destination[i] = x[i] + y[i];
        }
    }

    /// <inheritdoc/>
    public override void Scale(ReadOnlySpan<float> x, float scale, Span<float> destination)
    {
        Check.SameLength(x.Length, destination.Length, nameof(destination));
        for (var i = 0; i < x.Length; i++)
        {
            destination[i] = x[i] * scale;
        }
    }

    /// <inheritdoc/>
    public override float Max(ReadOnlySpan<float> x)
    {
        var m = float.NegativeInfinity;
        foreach (var v in x)
        {
            m = MathF.Max(m, v);
        }
        return m;
    }

    /// <inheritdoc/>
    public override float MaxAbs(ReadOnlySpan<float> x)
    {
        var m = 0f;
        foreach (var v in x)
        {
            m = MathF.Max(m, MathF.Abs(v));
        }
        return m;
    }

    /// <inheritdoc/>
    public override void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> gain, float eps, Span<float> destination)
    {
        Check.SameLength(x.Length, gain.Length, nameof(gain));
        Check.SameLength(x.Length, destination.Length, nameof(destination));
        var r = InverseRms(x, eps);
        for (var i = 0; i < x.Length; i++)
        {
            destination[i] = x[i] * r * gain[i];
        }
    }

    /// <inheritdoc/>
    public override void RmsNormAddTo(ReadOnlySpan<float> x, ReadOnlySpan<float> gain, float eps, Span<float> residual)
    {
        Check.SameLength(x.Length, gain.Length, nameof(gain));
        Check.SameLength(x.Length, residual.Length, nameof(residual));
        var r = InverseRms(x, eps);
        for (var i = 0; i < x.Length; i++)
        {
            residual[i] += x[i] * r * gain[i];
        }
    }

    /// <inheritdoc/>
    public override void RmsNormBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gain, float inverseRms, Span<float> gainGradient, Span<float> dx)
    {
        var n = x.Length;
        Check.SameLength(n, dy.Length, nameof(dy));
        Check.SameLength(n, gain.Length, nameof(gain));
        Check.SameLength(n, dx.Length, nameof(dx));
        if (!gainGradient.IsEmpty)
        {
            Check.SameLength(n, gainGradient.Length, nameof(gainGradient));
        }
        var r = inverseRms;
        var dot = 0f;
        for (var i = 0; i < n; i++)
        {
            var xh = x[i] * r;
            dot += dy[i] * gain[i] * xh;
            if (!gainGradient.IsEmpty)
            {
                gainGradient[i] += dy[i] * xh;
            }
        }
        var mean = n == 0 ? 0f : dot / n;
        for (var i = 0; i < n; i++)
        {
            dx[i] = r * (dy[i] * gain[i] - x[i] * r * mean);
        }
    }

    private static float InverseRms(ReadOnlySpan<float> x, float eps)
    {
        var ss = 0f;
        foreach (var v in x)
        {
            ss += v * v;
        }
        return x.Length == 0 ? 0f : 1f / MathF.Sqrt(ss / x.Length + eps);
    }

    /// <inheritdoc/>
    public override void GeluTanhMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> destination)
    {
        Check.SameLength(gate.Length, up.Length, nameof(up));
        Check.SameLength(gate.Length, destination.Length, nameof(destination));
        for (var i = 0; i < gate.Length; i++)
        {
            var g = gate[i];
            destination[i] = 0.5f * g * (1f + MathF.Tanh(GeluC * (g + 0.044715f * g * g * g))) * up[i];
        }
    }

    /// <inheritdoc/>
    public override void GeluTanhMulBackward(ReadOnlySpan<float> da, ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> dGate, Span<float> dUp)
    {
        Check.SameLength(da.Length, gate.Length, nameof(gate));
        Check.SameLength(da.Length, up.Length, nameof(up));
        Check.SameLength(da.Length, dGate.Length, nameof(dGate));
        Check.SameLength(da.Length, dUp.Length, nameof(dUp));
        for (var i = 0; i < da.Length; i++)
        {
            var g = gate[i];
            var t = MathF.Tanh(GeluC * (g + 0.044715f * g * g * g));
            var dgelu = 0.5f * (1f + t) + 0.5f * g * (1f - t * t) * GeluC * (1f + 0.134145f * g * g);
            dUp[i] = da[i] * 0.5f * g * (1f + t);
            dGate[i] = da[i] * up[i] * dgelu;
        }
    }

    /// <inheritdoc/>
    public override void RopeNeox(Span<float> x, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        var h = cos.Length;
        Check.SameLength(h, sin.Length, nameof(sin));
        Check.SameLength(2 * h, x.Length, nameof(x));
        for (var i = 0; i < h; i++)
        {
            float a = x[i], b = x[i + h];
            x[i] = a * cos[i] - b * sin[i];
            x[i + h] = b * cos[i] + a * sin[i];
        }
    }

    /// <inheritdoc/>
    public override float ExpShifted(ReadOnlySpan<float> x, float shift, Span<float> destination)
    {
        Check.SameLength(x.Length, destination.Length, nameof(destination));
        var s = 0f;
        for (var i = 0; i < x.Length; i++)
        {
            destination[i] = MathF.Exp(x[i] - shift);
            s += destination[i];
        }
        return s;
    }

    /// <inheritdoc/>
    public override void GemmTile(ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> w, int ldw, Span<float> c, int ldc, int m, int n, int k)
    {
        CheckGemm(a.Length, lda, w.Length, ldw, c.Length, ldc, m, n, k);
        for (var i = 0; i < m; i++)
        {
            var ai = a.Slice(i * lda, k);
            for (var j = 0; j < n; j++)
            {
                var wj = w.Slice(j * ldw, k);
                var s = 0f;
                for (var t = 0; t < k; t++)
                {
                    s += ai[t] * wj[t];
                }
                c[i * ldc + j] = s;
            }
        }
    }

    /// <inheritdoc/>
    public override void GemmPacked(ReadOnlySpan<float> a, int aRowStride, int aColStride, ReadOnlySpan<float> b, int bRowStride, int bColStride,
        Span<float> c, int ldc, int m, int n, int k, bool accumulate)
    {
        CheckGemmPacked(a.Length, aRowStride, aColStride, b.Length, bRowStride, bColStride, c.Length, ldc, m, n, k);
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var s = accumulate ? c[i * ldc + j] : 0f;
                for (var t = 0; t < k; t++)
                {
                    s = MathF.FusedMultiplyAdd(a[i * aRowStride + t * aColStride], b[t * bRowStride + j * bColStride], s);
                }
                c[i * ldc + j] = s;
            }
        }
    }

    /// <inheritdoc/>
    public override void QuantizeRowQ8(ReadOnlySpan<float> x, Span<sbyte> quants, Span<float> scales)
    {
        if (x.Length % 32 != 0)
        {
            throw new ArgumentException($"Q8 rows need a multiple of 32 values, got {x.Length}.", nameof(x));
        }
        Check.SameLength(x.Length, quants.Length, nameof(quants));
        Check.SameLength(x.Length / 32, scales.Length, nameof(scales));
        for (var b = 0; b < scales.Length; b++)
        {
            var blk = x.Slice(32 * b, 32);
            var amax = 0f;
            foreach (var v in blk)
            {
                amax = MathF.Max(amax, MathF.Abs(v));
            }
            scales[b] = (float)(Half)(amax / 127f);
            var id = amax != 0f ? 127f / amax : 0f;
            for (var t = 0; t < 32; t++)
            {
                quants[32 * b + t] = (sbyte)MathF.Round(blk[t] * id, MidpointRounding.ToEven);
            }
        }
    }

    /// <inheritdoc/>
    public override void GemmQ8Tile(ReadOnlySpan<sbyte> aq, ReadOnlySpan<float> ad, ReadOnlySpan<sbyte> wq, ReadOnlySpan<float> wd, Span<float> c, int ldc, int m, int n, int k)
    {
        CheckQ8(aq.Length, ad.Length, wq.Length, wd.Length, c.Length, ldc, m, n, k);
        var nb = k / 32;
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var s = 0f;
                for (var b = 0; b < nb; b++)
                {
                    var isum = 0;
                    for (var t = 0; t < 32; t++)
                    {
                        isum += aq[i * k + 32 * b + t] * wq[j * k + 32 * b + t];
                    }
                    s += ad[i * nb + b] * wd[j * nb + b] * isum;
                }
                c[i * ldc + j] = s;
            }
        }
    }

    /// <inheritdoc/>
    public override void Bf16ToSingle(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        Check.SameLength(source.Length, destination.Length, nameof(destination));
        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = BitConverter.Int32BitsToSingle(source[i] << 16);
        }
    }
}
