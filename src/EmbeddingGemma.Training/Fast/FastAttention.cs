using EmbeddingGemma.Numerics.Attention;
using EmbeddingGemma.Numerics.Kernels;

namespace EmbeddingGemma.Training.Fast;

/// <summary>
/// fp32 op 6 (bidirectional windowed grouped-query attention) for training, tiled like the engine's
/// <see cref="TiledAttention"/>: queries in blocks of <see cref="TiledAttention.QueryBlock"/> positions with the
/// <c>group</c> query heads of one KV head packed as rows, keys in tiles of <see cref="TiledAttention.KeyTile"/> at
/// absolute positions, only the tiles that meet the window visited, scores and products on the engine's
/// <see cref="KernelSet.GemmTile"/>. The forward also writes the log-sum-exp L per (token, head); the backward is
/// FlashAttention-2's (Dao 2023, Algorithm 2): per tile it recomputes <c>P = exp(c·q·k − L)</c> from L, then
/// <c>dP = dO·Vᵀ</c>, <c>dS = P⊙(dP − δ)</c> with <c>δ = rowsum(dO⊙O)</c>, <c>dQ += c·dS·K</c>, <c>dK += c·dSᵀ·Q</c>,
/// <c>dV += Pᵀ·dO</c>. No S × S buffer exists: the largest temporary is one tile of rows × 128. Formulas and masking
/// are those of <see cref="Reference.Attention"/>, checked against it in tests.
/// </summary>
internal static class FastAttention
{
    private const int QB = TiledAttention.QueryBlock;
    private const int KT = TiledAttention.KeyTile;

    /// <summary>Per-thread buffers (grown on demand).</summary>
    internal sealed class Scratch
    {
        public float[] Qp = [], Dop = [], QpT = [], DopT = [], Dqp = [], Op = [];
        public float[] P = [], Dp = [], PT = [], DsT = [], Tmp = [], KTrans = [], VTrans = [];
        public float[] RowMax = [], RowSum = [], Delta = [], Lse = [];

        public void Ensure(int rows, int hd, int length)
        {
            static void G(ref float[] a, int n)
            {
                if (a.Length < n)
                {
                    a = new float[n];
                }
            }
            G(ref Qp, rows * hd);
            G(ref Dop, rows * hd);
            G(ref QpT, rows * hd);
            G(ref DopT, rows * hd);
            G(ref Dqp, rows * hd);
            G(ref Op, rows * hd);
            G(ref P, rows * KT);
            G(ref Dp, rows * KT);
            G(ref PT, rows * KT);
            G(ref DsT, rows * KT);
            G(ref Tmp, Math.Max(rows, KT) * hd);
            G(ref KTrans, hd * length);
            G(ref VTrans, hd * length);
            G(ref RowMax, rows);
            G(ref RowSum, rows);
            G(ref Delta, rows);
            G(ref Lse, rows);
        }
    }

    [ThreadStatic] private static Scratch? t_scratch;

    internal static Scratch ThreadScratch => t_scratch ??= new Scratch();

    /// <summary>
    /// One sequence, one KV head: q [len, heads·hd] (RoPE applied), k, v [len, kvHeads·hd]; writes o [len, heads·hd]
    /// and lse [len, heads] for the query heads of <paramref name="kvh"/>. <paramref name="radius"/> &lt; 0: global.
    /// </summary>
    public static void Forward(KernelSet ks, float[] q, float[] k, float[] v, float[] o, float[] lse, int off, int len, int heads, int kvHeads, int hd,
        float scale, int radius, int kvh)
    {
        int group = heads / kvHeads, qStride = heads * hd, kvStride = kvHeads * hd;
        var sc = ThreadScratch;
        sc.Ensure(QB * group, hd, len);
        HeadTransposed(v, off, len, kvStride, kvh * hd, hd, sc.VTrans);
        for (var i0 = 0; i0 < len; i0 += QB)
        {
            var bq = Math.Min(QB, len - i0);
            var rows = bq * group;
            var (lo, hi) = Window(i0, bq, len, radius);
            for (var r = 0; r < bq; r++)
            {
                Array.Copy(q, (off + i0 + r) * qStride + kvh * group * hd, sc.Qp, r * group * hd, group * hd);
            }
            var op = sc.Op.AsSpan(0, rows * hd);
            op.Clear();
            sc.RowMax.AsSpan(0, rows).Fill(float.NegativeInfinity);
            sc.RowSum.AsSpan(0, rows).Clear();
            for (var j0 = lo / KT * KT; j0 < hi; j0 += KT)
            {
                var tk = Math.Min(KT, len - j0);
                ks.GemmTile(sc.Qp, hd, k.AsSpan((off + j0) * kvStride + kvh * hd), kvStride, sc.P, KT, rows, tk, hd);
                for (var rho = 0; rho < rows; rho++)
                {
                    var i = i0 + rho / group;
                    var s = sc.P.AsSpan(rho * KT, tk);
                    ks.Scale(s, scale, s);
                    Mask(s, i, j0, tk, radius);
                    var mOld = sc.RowMax[rho];
                    var mNew = MathF.Max(mOld, ks.Max(s));
                    if (float.IsNegativeInfinity(mNew))
                    {
                        s.Clear();
                        continue;
                    }
                    var corr = float.IsNegativeInfinity(mOld) ? 0f : MathF.Exp(mOld - mNew);
                    sc.RowSum[rho] = sc.RowSum[rho] * corr + ks.ExpShifted(s, mNew, s);
                    sc.RowMax[rho] = mNew;
                    if (corr != 1f)
                    {
                        var orow = op.Slice(rho * hd, hd);
                        ks.Scale(orow, corr, orow);
                    }
                }
                ks.GemmTile(sc.P, KT, sc.VTrans.AsSpan(j0), len, sc.Tmp, hd, rows, hd, tk);
                ks.Add(op, sc.Tmp.AsSpan(0, rows * hd), op);
            }
            for (var r = 0; r < bq; r++)
            {
                for (var g = 0; g < group; g++)
                {
                    var rho = r * group + g;
                    var head = kvh * group + g;
                    ks.Scale(op.Slice(rho * hd, hd), 1f / sc.RowSum[rho], o.AsSpan((off + i0 + r) * qStride + head * hd, hd));
                    lse[(off + i0 + r) * heads + head] = sc.RowMax[rho] + MathF.Log(sc.RowSum[rho]);
                }
            }
        }
    }

    // One KV head of a sequence transposed: dst[c, t] = src[(off + t)·stride + col + c] for t < len, c < hd.
    private static void HeadTransposed(float[] src, int off, int len, int stride, int col, int hd, float[] dst)
    {
        for (var t = 0; t < len; t++)
        {
            var row = (off + t) * stride + col;
            for (var c = 0; c < hd; c++)
            {
                dst[c * len + t] = src[row + c];
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="Forward"/> for one sequence and KV head: writes dq (query heads of <paramref name="kvh"/>)
    /// and adds into dk, dv (this KV head's columns); the caller owns those slices for the duration.
    /// </summary>
    public static void Backward(KernelSet ks, float[] dO, float[] q, float[] k, float[] v, float[] o, float[] lse, float[] dq, float[] dk, float[] dv,
        int off, int len, int heads, int kvHeads, int hd, float scale, int radius, int kvh)
    {
        int group = heads / kvHeads, qStride = heads * hd, kvStride = kvHeads * hd;
        var sc = ThreadScratch;
        sc.Ensure(QB * group, hd, len);
        HeadTransposed(k, off, len, kvStride, kvh * hd, hd, sc.KTrans);
        for (var i0 = 0; i0 < len; i0 += QB)
        {
            var bq = Math.Min(QB, len - i0);
            var rows = bq * group;
            var (lo, hi) = Window(i0, bq, len, radius);
            for (var r = 0; r < bq; r++)
            {
                var src = (off + i0 + r) * qStride + kvh * group * hd;
                Array.Copy(q, src, sc.Qp, r * group * hd, group * hd);
                Array.Copy(dO, src, sc.Dop, r * group * hd, group * hd);
                for (var g = 0; g < group; g++)
                {
                    var rho = r * group + g;
                    sc.Delta[rho] = ks.Dot(dO.AsSpan(src + g * hd, hd), o.AsSpan(src + g * hd, hd));
                    sc.Lse[rho] = lse[(off + i0 + r) * heads + kvh * group + g];
                }
            }
            Transpose(sc.Qp, rows, hd, sc.QpT);
            Transpose(sc.Dop, rows, hd, sc.DopT);
            var dqp = sc.Dqp.AsSpan(0, rows * hd);
            dqp.Clear();
            for (var j0 = lo / KT * KT; j0 < hi; j0 += KT)
            {
                var tk = Math.Min(KT, len - j0);
                ks.GemmTile(sc.Qp, hd, k.AsSpan((off + j0) * kvStride + kvh * hd), kvStride, sc.P, KT, rows, tk, hd);
                ks.GemmTile(sc.Dop, hd, v.AsSpan((off + j0) * kvStride + kvh * hd), kvStride, sc.Dp, KT, rows, tk, hd);
                for (var rho = 0; rho < rows; rho++)
                {
                    var i = i0 + rho / group;
                    var s = sc.P.AsSpan(rho * KT, tk);
                    var dp = sc.Dp.AsSpan(rho * KT, tk);
                    ks.Scale(s, scale, s);
                    Mask(s, i, j0, tk, radius);
                    ks.ExpShifted(s, sc.Lse[rho], s);
                    var delta = sc.Delta[rho];
                    for (var t = 0; t < tk; t++)
                    {
                        dp[t] = s[t] * (dp[t] - delta);
                    }
                }
                // dQ += c·dS·K   (K of the tile transposed: KT[c, j0 + t])
                ks.GemmTile(sc.Dp, KT, sc.KTrans.AsSpan(j0), len, sc.Tmp, hd, rows, hd, tk);
                ks.Axpy(scale, sc.Tmp.AsSpan(0, rows * hd), dqp);
                Transpose(sc.Dp, rows, tk, KT, sc.DsT);
                Transpose(sc.P, rows, tk, KT, sc.PT);
                // dK[j0 + t] += c·Σ_ρ dS[ρ, t]·q_ρ
                ks.GemmTile(sc.DsT, rows, sc.QpT, rows, sc.Tmp, hd, tk, hd, rows);
                for (var t = 0; t < tk; t++)
                {
                    ks.Axpy(scale, sc.Tmp.AsSpan(t * hd, hd), dk.AsSpan((off + j0 + t) * kvStride + kvh * hd, hd));
                }
                // dV[j0 + t] += Σ_ρ P[ρ, t]·dO_ρ
                ks.GemmTile(sc.PT, rows, sc.DopT, rows, sc.Tmp, hd, tk, hd, rows);
                for (var t = 0; t < tk; t++)
                {
                    var dst = dv.AsSpan((off + j0 + t) * kvStride + kvh * hd, hd);
                    ks.Add(dst, sc.Tmp.AsSpan(t * hd, hd), dst);
                }
            }
            for (var r = 0; r < bq; r++)
            {
                dqp.Slice(r * group * hd, group * hd).CopyTo(dq.AsSpan((off + i0 + r) * qStride + kvh * group * hd, group * hd));
            }
        }
    }

    private static (int Lo, int Hi) Window(int i0, int bq, int len, int radius) =>
        radius < 0 ? (0, len) : (Math.Max(0, i0 - radius), Math.Min(len, i0 + bq - 1 + radius + 1));

    // keys outside |i − j| ≤ radius get −∞ (exp gives exactly 0)
    private static void Mask(Span<float> s, int i, int j0, int tk, int radius)
    {
        if (radius < 0)
        {
            return;
        }
        var first = Math.Clamp(i - radius - j0, 0, tk);
        var last = Math.Clamp(i + radius + 1 - j0, first, tk);
        s[..first].Fill(float.NegativeInfinity);
        s[last..].Fill(float.NegativeInfinity);
    }

    // dst[c, r] = src[r, c] for src [rows, cols] with row stride cols.
    private static void Transpose(float[] src, int rows, int cols, float[] dst) => Transpose(src, rows, cols, cols, dst);

    // dst [cols, rows] from src [rows, cols] with row stride ld.
    private static void Transpose(float[] src, int rows, int cols, int ld, float[] dst)
    {
        for (var r = 0; r < rows; r++)
        {
            var row = r * ld;
            for (var c = 0; c < cols; c++)
            {
                dst[c * rows + r] = src[row + c];
            }
        }
    }
}
