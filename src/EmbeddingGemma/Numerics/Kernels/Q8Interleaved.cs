using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

using EmbeddingGemma.Numerics.Quantization;

namespace EmbeddingGemma.Numerics.Kernels;

/// <summary>
/// The AVX2 int8 GEMM for Q4_0 and Q8_0 weights against Q8_0-quantized activations, with weights repacked on the fly
/// into panels of 8 interleaved rows ("x8", like llama.cpp's repacked q4_0x8) so that one <c>vpmaddubsw</c> multiplies
/// 4 consecutive activation bytes (broadcast) with the same 4 positions of 8 weight rows, and the 8 lanes of an
/// accumulator are 8 output columns: no horizontal sums, and the per-block float step (convert, scale, FMA) is done once
/// per 8 outputs instead of once per output.
/// <para>
/// <c>vpmaddubsw</c> needs one unsigned operand, so weights are stored as unsigned 4-bit planes: Q4_0's nibble u = q + 8
/// as stored; Q8_0's q + 128 = 16·hi + lo split into two nibble planes. With |a| ≤ 127 a pair of products is at most
/// 2·15·127 = 3,810, so the 8 quads of a 32-block accumulate in int16 without saturation; <c>vpmaddwd</c> by 1 (or 16 for
/// Q8_0's high plane) widens to int32, and the offset is removed exactly: Σ q·a = Σ u·a − 8·Σa (Q4_0) or
/// 16·Σ hi·a + Σ lo·a − 128·Σa (Q8_0). The block's integer dot product is therefore exact, as in llama.cpp; it is then
/// converted to float and accumulated as c += (dw·da)·isum in block order.
/// </para>
/// Every output goes through the same operations whatever the tile (4 rows or 1) and its position, so results are
/// bit-identical across batchings and thread counts.
/// </summary>
internal static unsafe class Q8Interleaved
{
    /// <summary>Weight rows interleaved in one group.</summary>
    public const int Group = 8;

    /// <summary>Bytes of one 32-block of one plane of one group (8 quads × 8 rows × 4 bytes).</summary>
    private const int BlockBytes = 256;

    /// <summary>Nibble planes per weight type (Q4_0: 1, Q8_0: 2).</summary>
    public static int Planes(GgmlType type) => type == GgmlType.Q8_0 ? 2 : 1;

    /// <summary>Value added to make the stored weights unsigned (Q4_0: 8, Q8_0: 128).</summary>
    public static int Offset(GgmlType type) => type == GgmlType.Q8_0 ? 128 : 8;

    /// <summary>Panel bytes for <paramref name="rows"/> weight rows of <paramref name="k"/> columns.</summary>
    public static int PanelBytes(GgmlType type, int rows, int k) => GroupsOf(rows) * Planes(type) * k * Group;

    /// <summary>Panel scale floats for <paramref name="rows"/> weight rows.</summary>
    public static int PanelScales(int rows, int k) => GroupsOf(rows) * (k / 32) * Group;

    public static int GroupsOf(int rows) => (rows + Group - 1) / Group;

    /// <summary>
    /// Repacks <paramref name="rows"/> ggml rows (Q4_0 or Q8_0, <paramref name="rowBytes"/> apart in
    /// <paramref name="source"/>) into interleaved nibble planes and fp32 scales; rows past the last are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack(GgmlType type, ReadOnlySpan<byte> source, long rowBytes, int rows, int k, Span<byte> panel, Span<float> scales)
    {
        var nbk = k / 32;
        var planes = Planes(type);
        var groups = GroupsOf(rows);
        var groupBytes = planes * k * Group;
        var mask = Vector128.Create((byte)0x0F);
        var flip = Vector128.Create((byte)0x80);
        ref var pr = ref MemoryMarshal.GetReference(panel);
        for (var g = 0; g < groups; g++)
        {
            for (var rr = 0; rr < Group; rr++)
            {
                var r = g * Group + rr;
                for (var b = 0; b < nbk; b++)
                {
                    ref var dst = ref Unsafe.Add(ref pr, (nint)g * groupBytes + b * BlockBytes + rr * 4);
                    if (r >= rows)
                    {
                        scales[(g * nbk + b) * Group + rr] = 0f;
                        for (var p = 0; p < planes; p++)
                        {
                            for (var q = 0; q < 8; q++)
                            {
                                Unsafe.WriteUnaligned(ref Unsafe.Add(ref dst, p * k * Group + q * 32), 0u);
                            }
                        }
                        continue;
                    }
                    if (type == GgmlType.Q4_0)
                    {
                        var blk = source.Slice((int)(r * rowBytes) + 18 * b, 18);
                        scales[(g * nbk + b) * Group + rr] = ScalarQuant.F16ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(blk));
                        var v = Vector128.Create(blk.Slice(2, 16));
                        // Elements 0..15 are the low nibbles (quads 0..3), 16..31 the high nibbles (quads 4..7).
                        Scatter(ref dst, (v & mask).AsUInt32(), 0);
                        Scatter(ref dst, Vector128.ShiftRightLogical(v, 4).AsUInt32(), 4);
                    }
                    else
                    {
                        var blk = source.Slice((int)(r * rowBytes) + 34 * b, 34);
                        scales[(g * nbk + b) * Group + rr] = ScalarQuant.F16ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(blk));
                        var lo16 = Vector128.Create(blk.Slice(2, 16)) ^ flip;
                        var hi16 = Vector128.Create(blk.Slice(18, 16)) ^ flip;
                        ref var lo = ref Unsafe.Add(ref dst, k * Group);
                        Scatter(ref dst, Vector128.ShiftRightLogical(lo16, 4).AsUInt32(), 0);
                        Scatter(ref dst, Vector128.ShiftRightLogical(hi16, 4).AsUInt32(), 4);
                        Scatter(ref lo, (lo16 & mask).AsUInt32(), 0);
                        Scatter(ref lo, (hi16 & mask).AsUInt32(), 4);
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scatter(ref byte dst, Vector128<uint> quads, int q0)
    {
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref dst, (q0 + 0) * 32), quads.GetElement(0));
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref dst, (q0 + 1) * 32), quads.GetElement(1));
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref dst, (q0 + 2) * 32), quads.GetElement(2));
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref dst, (q0 + 3) * 32), quads.GetElement(3));
    }

    /// <summary>
    /// offsets[b] = <paramref name="offset"/>·Σ_t q[32b + t] for each 32-block of one quantized activation row: the scalar
    /// reference of the sums <see cref="QuantizeRow"/> computes.
    /// </summary>
    internal static void BlockOffsets(ReadOnlySpan<sbyte> q, int offset, Span<int> offsets)
    {
        for (var b = 0; b < offsets.Length; b++)
        {
            var s = 0;
            foreach (var v in q.Slice(32 * b, 32))
            {
                s += v;
            }
            offsets[b] = offset * s;
        }
    }

    /// <summary>
    /// <see cref="KernelSet.QuantizeRowQ8"/> (bit for bit: d = fp16(amax/127), q = round_half_even(x·127/amax)) fused
    /// with <see cref="BlockOffsets"/>, all in AVX2 registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<sbyte> quants, Span<float> scales, int offset, Span<int> offsets)
    {
        var nb = x.Length / 32;
        if (x.Length % 32 != 0 || quants.Length < x.Length || scales.Length < nb || offsets.Length < nb)
        {
            throw new ArgumentException($"Q8 rows need a multiple of 32 values and room for them, got {x.Length}.", nameof(x));
        }
        var perm = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
        var signMask = Vector256.Create(0x7FFFFFFF).AsSingle();
        fixed (float* px = x)
        fixed (sbyte* pq = quants)
        {
            for (var b = 0; b < nb; b++)
            {
                var src = px + 32 * b;
                var x0 = Avx.LoadVector256(src);
                var x1 = Avx.LoadVector256(src + 8);
                var x2 = Avx.LoadVector256(src + 16);
                var x3 = Avx.LoadVector256(src + 24);
                var m = Avx.Max(Avx.Max(Avx.And(x0, signMask), Avx.And(x1, signMask)), Avx.Max(Avx.And(x2, signMask), Avx.And(x3, signMask)));
                var m128 = Sse.Max(m.GetLower(), m.GetUpper());
                m128 = Sse.Max(m128, Sse.MoveHighToLow(m128, m128));
                m128 = Sse.Max(m128, Sse.Shuffle(m128, m128, 0b01));
                var amax = m128.ToScalar();
                scales[b] = ScalarQuant.RoundToF16Precision(amax / 127f);
                var id = Vector256.Create(amax != 0f ? 127f / amax : 0f);
                var q0 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(x0 * id));
                var q1 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(x1 * id));
                var q2 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(x2 * id));
                var q3 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(x3 * id));
                var bytes = Avx2.PackSignedSaturate(Avx2.PackSignedSaturate(q0, q1), Avx2.PackSignedSaturate(q2, q3));
                Avx.Store(pq + 32 * b, Avx2.PermuteVar8x32(bytes.AsInt32(), perm).AsSByte());
                offsets[b] = offset * Vector256.Sum((q0 + q1) + (q2 + q3));
            }
        }
    }

    /// <summary>
    /// C[i, j] = Σ_b (da[i, b]·dw[j, b])·(Σ_t a[i, 32b + t]·w[j, 32b + t]) for i &lt; m, j &lt; n, where
    /// <paramref name="panel"/>/<paramref name="scales"/> hold rows j in the layout of <see cref="Pack"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Gemm(ReadOnlySpan<sbyte> aq, ReadOnlySpan<float> ad, ReadOnlySpan<int> aoff, ReadOnlySpan<byte> panel, ReadOnlySpan<float> scales,
        int planes, Span<float> c, int ldc, int m, int n, int k)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            throw new PlatformNotSupportedException("The interleaved int8 GEMM needs AVX2 and FMA.");
        }
        var nbk = k / 32;
        var groups = GroupsOf(n);
        if (aq.Length < m * k || ad.Length < m * nbk || aoff.Length < m * nbk || panel.Length < groups * planes * k * Group
            || scales.Length < groups * nbk * Group || (m > 0 && c.Length < (m - 1) * ldc + n) || k % 32 != 0 || planes is < 1 or > 2)
        {
            throw new ArgumentException($"Interleaved int8 GEMM: buffers too small or bad shape (m={m}, n={n}, k={k}, planes={planes}).");
        }
        var groupBytes = planes * k * Group;
        Span<float> tmp = stackalloc float[2 * Group * 3];
        fixed (sbyte* pa = aq)
        fixed (float* pad = ad)
        fixed (int* pao = aoff)
        fixed (byte* pw = panel)
        fixed (float* ps = scales)
        fixed (float* pc = c)
        fixed (float* pt = tmp)
        {
            var args = new Args { K = k, Nbk = nbk, Planes = planes, PlaneBytes = k * Group };
            for (var g = 0; g < groups; g += 2)
            {
                // Two groups (16 columns) at a time; a last odd group is paired with itself and its copy discarded.
                var g1 = Math.Min(g + 1, groups - 1);
                var cols = Math.Min(2 * Group, n - g * Group);
                var w0 = pw + (nint)g * groupBytes;
                var w1 = pw + (nint)g1 * groupBytes;
                var s0 = ps + (nint)g * nbk * Group;
                var s1 = ps + (nint)g1 * nbk * Group;
                var direct = cols == 2 * Group;
                var i = 0;
                // Q4_0: 3 rows × 16 columns (6 int16 + 6 float accumulators); Q8_0's second plane needs 6 more int32
                // accumulators, so 2 rows × 16 columns keep everything in the 16 ymm registers.
                var tileRows = planes == 1 ? 3 : 2;
                for (; i + tileRows <= m; i += tileRows)
                {
                    var dst = direct ? pc + (nint)i * ldc + g * Group : pt;
                    if (planes == 1)
                    {
                        Tile3Q4(args, (byte*)pa + (nint)i * k, pad + (nint)i * nbk, pao + (nint)i * nbk, w0, w1, s0, s1, dst, direct ? ldc : 2 * Group);
                    }
                    else
                    {
                        Tile2Q8(args, (byte*)pa + (nint)i * k, pad + (nint)i * nbk, pao + (nint)i * nbk, w0, w1, s0, s1, dst, direct ? ldc : 2 * Group);
                    }
                    if (!direct)
                    {
                        for (var r = 0; r < tileRows; r++)
                        {
                            new ReadOnlySpan<float>(pt + r * 2 * Group, cols).CopyTo(new Span<float>(pc + (nint)(i + r) * ldc + g * Group, cols));
                        }
                    }
                }
                for (; i < m; i++)
                {
                    var dst = direct ? pc + (nint)i * ldc + g * Group : pt;
                    Tile1(args, (byte*)pa + (nint)i * k, pad + (nint)i * nbk, pao + (nint)i * nbk, w0, w1, s0, s1, dst);
                    if (!direct)
                    {
                        new ReadOnlySpan<float>(pt, cols).CopyTo(new Span<float>(pc + (nint)i * ldc + g * Group, cols));
                    }
                }
            }
        }
    }

    private struct Args
    {
        public int K;
        public int Nbk;
        public int Planes;
        public int PlaneBytes;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Quad(byte* a) => Avx2.BroadcastScalarToVector256((int*)a).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Mult(int plane, int planes) => Vector256.Create((short)(planes == 2 && plane == 0 ? 16 : 1));

    // c += (dw ⊙ da)·float(isum − offset): the float step of one block for 8 outputs.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Step(Vector256<float> acc, Vector256<int> isum, int* aoff, float* ad, float* ws) =>
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Subtract(isum, Avx2.BroadcastScalarToVector256(aoff))), Avx.LoadVector256(ws) * Avx.BroadcastScalarToVector256(ad), acc);

    // One activation row × 16 columns: the reference sequence of operations for every output.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1(Args x, byte* a, float* ad, int* ao, byte* w0, byte* w1, float* s0, float* s1, float* c)
    {
        Vector256<float> f0 = default, f1 = default;
        for (var b = 0; b < x.Nbk; b++)
        {
            Vector256<int> i0 = default, i1 = default;
            var ab = a + 32 * b;
            for (var p = 0; p < x.Planes; p++)
            {
                var u = w0 + (nint)p * x.PlaneBytes + b * BlockBytes;
                var v = w1 + (nint)p * x.PlaneBytes + b * BlockBytes;
                Vector256<short> t0 = default, t1 = default;
                for (var q = 0; q < 8; q++)
                {
                    var xa = Quad(ab + 4 * q);
                    t0 = Avx2.Add(t0, Avx2.MultiplyAddAdjacent(Avx.LoadVector256(u + 32 * q), xa));
                    t1 = Avx2.Add(t1, Avx2.MultiplyAddAdjacent(Avx.LoadVector256(v + 32 * q), xa));
                }
                var mult = Mult(p, x.Planes);
                i0 = Avx2.Add(i0, Avx2.MultiplyAddAdjacent(t0, mult));
                i1 = Avx2.Add(i1, Avx2.MultiplyAddAdjacent(t1, mult));
            }
            f0 = Step(f0, i0, ao + b, ad + b, s0 + b * Group);
            f1 = Step(f1, i1, ao + b, ad + b, s1 + b * Group);
        }
        Avx.Store(c, f0);
        Avx.Store(c + Group, f1);
    }

    // Three activation rows × 16 columns sharing every weight load; per output exactly the operations of Tile1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Dot4(Vector256<short> acc, Vector256<byte> w, Vector256<sbyte> a) => Avx2.Add(acc, Avx2.MultiplyAddAdjacent(w, a));

    // Step with the row's offset and scale already broadcast (shared by the row's two column groups).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Step(Vector256<float> acc, Vector256<int> isum, Vector256<int> off, Vector256<float> da, float* ws) =>
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Subtract(isum, off)), Avx.LoadVector256(ws) * da, acc);

    // Q4_0: three activation rows × 16 columns sharing every weight load; per output exactly the operations of Tile1.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile3Q4(Args x, byte* a0, float* ad0, int* ao0, byte* w0, byte* w1, float* s0, float* s1, float* c, int ldc)
    {
        var k = x.K;
        var nbk = x.Nbk;
        var a1 = a0 + k;
        var a2 = a0 + 2 * k;
        var one = Vector256.Create((short)1);
        Vector256<float> f00 = default, f01 = default, f10 = default, f11 = default, f20 = default, f21 = default;
        for (var b = 0; b < nbk; b++)
        {
            var u = w0 + b * BlockBytes;
            var v = w1 + b * BlockBytes;
            var ab = 32 * b;
            Vector256<short> t00 = default, t01 = default, t10 = default, t11 = default, t20 = default, t21 = default;
            for (var q = 0; q < 8; q++)
            {
                var wu = Avx.LoadVector256(u + 32 * q);
                var wv = Avx.LoadVector256(v + 32 * q);
                var o = ab + 4 * q;
                var x0 = Quad(a0 + o);
                t00 = Dot4(t00, wu, x0);
                t01 = Dot4(t01, wv, x0);
                var x1 = Quad(a1 + o);
                t10 = Dot4(t10, wu, x1);
                t11 = Dot4(t11, wv, x1);
                var x2 = Quad(a2 + o);
                t20 = Dot4(t20, wu, x2);
                t21 = Dot4(t21, wv, x2);
            }
            var sw0 = s0 + b * Group;
            var sw1 = s1 + b * Group;
            var off = Avx2.BroadcastScalarToVector256(ao0 + b);
            var da = Avx.BroadcastScalarToVector256(ad0 + b);
            f00 = Step(f00, Avx2.MultiplyAddAdjacent(t00, one), off, da, sw0);
            f01 = Step(f01, Avx2.MultiplyAddAdjacent(t01, one), off, da, sw1);
            off = Avx2.BroadcastScalarToVector256(ao0 + nbk + b);
            da = Avx.BroadcastScalarToVector256(ad0 + nbk + b);
            f10 = Step(f10, Avx2.MultiplyAddAdjacent(t10, one), off, da, sw0);
            f11 = Step(f11, Avx2.MultiplyAddAdjacent(t11, one), off, da, sw1);
            off = Avx2.BroadcastScalarToVector256(ao0 + 2 * nbk + b);
            da = Avx.BroadcastScalarToVector256(ad0 + 2 * nbk + b);
            f20 = Step(f20, Avx2.MultiplyAddAdjacent(t20, one), off, da, sw0);
            f21 = Step(f21, Avx2.MultiplyAddAdjacent(t21, one), off, da, sw1);
        }
        Avx.Store(c, f00);
        Avx.Store(c + Group, f01);
        Avx.Store(c + ldc, f10);
        Avx.Store(c + ldc + Group, f11);
        Avx.Store(c + 2 * ldc, f20);
        Avx.Store(c + 2 * ldc + Group, f21);
    }

    // One 32-block of one nibble plane, two activation rows × 16 columns: the int16 sums of the 8 quads.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block2x16(byte* u, byte* v, byte* a0, byte* a1, out Vector256<short> t00, out Vector256<short> t01, out Vector256<short> t10, out Vector256<short> t11)
    {
        t00 = default;
        t01 = default;
        t10 = default;
        t11 = default;
        for (var q = 0; q < 8; q++)
        {
            var wu = Avx.LoadVector256(u + 32 * q);
            var wv = Avx.LoadVector256(v + 32 * q);
            var x0 = Quad(a0 + 4 * q);
            t00 = Dot4(t00, wu, x0);
            t01 = Dot4(t01, wv, x0);
            var x1 = Quad(a1 + 4 * q);
            t10 = Dot4(t10, wu, x1);
            t11 = Dot4(t11, wv, x1);
        }
    }

    // Q8_0 (two nibble planes): two activation rows × 16 columns; per output exactly the operations of Tile1.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile2Q8(Args x, byte* a0, float* ad0, int* ao0, byte* w0, byte* w1, float* s0, float* s1, float* c, int ldc)
    {
        var k = x.K;
        var nbk = x.Nbk;
        var planeBytes = x.PlaneBytes;
        var a1 = a0 + k;
        var one = Vector256.Create((short)1);
        var sixteen = Vector256.Create((short)16);
        Vector256<float> f00 = default, f01 = default, f10 = default, f11 = default;
        for (var b = 0; b < nbk; b++)
        {
            var u = w0 + b * BlockBytes;
            var v = w1 + b * BlockBytes;
            var ab = 32 * b;
            Block2x16(u, v, a0 + ab, a1 + ab, out var t00, out var t01, out var t10, out var t11);
            var i00 = Avx2.MultiplyAddAdjacent(t00, sixteen);
            var i01 = Avx2.MultiplyAddAdjacent(t01, sixteen);
            var i10 = Avx2.MultiplyAddAdjacent(t10, sixteen);
            var i11 = Avx2.MultiplyAddAdjacent(t11, sixteen);
            Block2x16(u + planeBytes, v + planeBytes, a0 + ab, a1 + ab, out t00, out t01, out t10, out t11);
            i00 = Avx2.Add(i00, Avx2.MultiplyAddAdjacent(t00, one));
            i01 = Avx2.Add(i01, Avx2.MultiplyAddAdjacent(t01, one));
            i10 = Avx2.Add(i10, Avx2.MultiplyAddAdjacent(t10, one));
            i11 = Avx2.Add(i11, Avx2.MultiplyAddAdjacent(t11, one));
            var sw0 = s0 + b * Group;
            var sw1 = s1 + b * Group;
            var off = Avx2.BroadcastScalarToVector256(ao0 + b);
            var da = Avx.BroadcastScalarToVector256(ad0 + b);
            f00 = Step(f00, i00, off, da, sw0);
            f01 = Step(f01, i01, off, da, sw1);
            off = Avx2.BroadcastScalarToVector256(ao0 + nbk + b);
            da = Avx.BroadcastScalarToVector256(ad0 + nbk + b);
            f10 = Step(f10, i10, off, da, sw0);
            f11 = Step(f11, i11, off, da, sw1);
        }
        Avx.Store(c, f00);
        Avx.Store(c + Group, f01);
        Avx.Store(c + ldc, f10);
        Avx.Store(c + ldc + Group, f11);
    }
}
