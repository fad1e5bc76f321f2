using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

using EmbeddingGemma.Numerics.Quantization;

namespace EmbeddingGemma.Numerics.Kernels;

/// <summary>
/// The AVX2 int8 GEMM for Q4_0 and Q8_0 weights against Q8_0-quantized activations, with weights packed (once, at
/// load: <see cref="WeightMatrix"/>) into groups of 8 interleaved rows ("x8", like llama.cpp's repacked q4_0x8) so that
/// one <c>vpmaddubsw</c> multiplies 4 consecutive activation bytes (broadcast) with the same 4 positions of 8 weight rows,
/// and the 8 lanes of an accumulator are 8 output columns: no horizontal sums, and the per-block float step (convert,
/// scale, FMA) is done once per 8 outputs instead of once per output.
/// <para>
/// The packed form is as compact as the file: per group and 32-block, Q4_0 keeps its stored bytes (byte t of a block
/// holds element t in the low nibble and element 16 + t in the high one), 4 bytes of each of the 8 rows side by side
/// (4 vectors of 32 bytes, 128 bytes); Q8_0 keeps u = q + 128 (8 vectors, 256 bytes). Scales are fp32.
/// <c>vpmaddubsw</c> needs one unsigned operand, so the kernels work on unsigned 4-bit planes taken with a mask and a
/// shift: Q4_0's nibble u = q + 8; Q8_0's u = 16·hi + lo. With |a| ≤ 127 a pair of products is at most 2·15·127 =
/// 3,810, so the 8 quads of a 32-block accumulate in int16 without overflow; <c>vpmaddwd</c> by 1 (or 16 for Q8_0's high
/// plane) widens to int32, and the offset is removed exactly: Σ q·a = Σ u·a − 8·Σa (Q4_0) or 16·Σ hi·a + Σ lo·a − 128·Σa
/// (Q8_0). The block's integer dot product is therefore exact, as in llama.cpp; it is then converted to float and
/// accumulated as c += (dw·da)·isum in block order.
/// </para>
/// Every output goes through the same operations whatever the tile (3, 2 or 1 rows) and its position, so results are
/// bit-identical across batchings and thread counts.
/// </summary>
internal static unsafe class Q8Interleaved
{
    /// <summary>Weight rows interleaved in one group.</summary>
    public const int Group = 8;

    /// <summary>True for the types this GEMM runs (Q4_0, Q8_0).</summary>
    public static bool Handles(GgmlType type) => type is GgmlType.Q4_0 or GgmlType.Q8_0;

    /// <summary>Value added to make the stored weights unsigned (Q4_0: 8, Q8_0: 128).</summary>
    public static int Offset(GgmlType type) => type == GgmlType.Q8_0 ? 128 : 8;

    /// <summary>Packed bytes of one 32-block of one group of 8 rows (Q4_0: 128, Q8_0: 256).</summary>
    public static int GroupBlockBytes(GgmlType type) => type == GgmlType.Q8_0 ? 256 : 128;

    /// <summary>Packed bytes of one group of 8 rows of <paramref name="k"/> columns.</summary>
    public static int GroupBytes(GgmlType type, int k) => k / 32 * GroupBlockBytes(type);

    /// <summary>Packed bytes for <paramref name="rows"/> weight rows of <paramref name="k"/> columns.</summary>
    public static long PanelBytes(GgmlType type, int rows, int k) => (long)GroupsOf(rows) * GroupBytes(type, k);

    /// <summary>Packed scale floats for <paramref name="rows"/> weight rows.</summary>
    public static long PanelScales(int rows, int k) => (long)GroupsOf(rows) * (k / 32) * Group;

    public static int GroupsOf(int rows) => (rows + Group - 1) / Group;

    /// <summary>
    /// Packs <paramref name="rows"/> ggml rows (Q4_0 or Q8_0, <paramref name="rowBytes"/> apart in
    /// <paramref name="source"/>) into the interleaved layout and fp32 scales; rows past the last (up to the group) are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack(GgmlType type, ReadOnlySpan<byte> source, long rowBytes, int rows, int k, Span<byte> panel, Span<float> scales)
    {
        if (!Handles(type))
        {
            throw new ArgumentException($"Interleaved packing is for Q4_0 and Q8_0, not {type}.", nameof(type));
        }
        var nbk = k / 32;
        var groups = GroupsOf(rows);
        var bb = GroupBlockBytes(type);
        var quads = bb / 32;                // 4-byte chunks of a row's block: Q4_0 4, Q8_0 8
        var srcBlock = type == GgmlType.Q8_0 ? 34 : 18;
        if (panel.Length < groups * nbk * bb || scales.Length < groups * nbk * Group || (long)rows * rowBytes > source.Length + (rowBytes - nbk * srcBlock))
        {
            throw new ArgumentException($"Interleaved packing: buffers too small for {rows} rows of {k} ({type}).");
        }
        ref var pr = ref MemoryMarshal.GetReference(panel);
        for (var g = 0; g < groups; g++)
        {
            for (var rr = 0; rr < Group; rr++)
            {
                var r = g * Group + rr;
                for (var b = 0; b < nbk; b++)
                {
                    ref var dst = ref Unsafe.Add(ref pr, ((nint)g * nbk + b) * bb + rr * 4);
                    if (r >= rows)
                    {
                        scales[(g * nbk + b) * Group + rr] = 0f;
                        for (var q = 0; q < quads; q++)
                        {
                            // zero weights: u = offset (8 or 128) so u - offset = 0 exactly
                            Unsafe.WriteUnaligned(ref Unsafe.Add(ref dst, q * 32), type == GgmlType.Q8_0 ? 0x80808080u : 0x88888888u);
                        }
                        continue;
                    }
                    var blk = source.Slice((int)(r * rowBytes) + srcBlock * b, srcBlock);
                    scales[(g * nbk + b) * Group + rr] = ScalarQuant.F16ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(blk));
                    for (var q = 0; q < quads; q++)
                    {
                        var chunk = BinaryPrimitives.ReadUInt32LittleEndian(blk.Slice(2 + 4 * q, 4));
                        Unsafe.WriteUnaligned(ref Unsafe.Add(ref dst, q * 32), type == GgmlType.Q8_0 ? chunk ^ 0x80808080u : chunk);
                    }
                }
            }
        }
    }

    /// <summary>Row <paramref name="row"/> of a packed matrix back to float32 (exactly the values of the ggml dequantizer).</summary>
    public static void UnpackRow(GgmlType type, ReadOnlySpan<byte> packed, ReadOnlySpan<float> scales, int row, int k, Span<float> destination)
    {
        var nbk = k / 32;
        var bb = GroupBlockBytes(type);
        int g = row / Group, rr = row % Group;
        for (var b = 0; b < nbk; b++)
        {
            var d = scales[(g * nbk + b) * Group + rr];
            var blk = packed.Slice((g * nbk + b) * bb + rr * 4);
            var dst = destination.Slice(32 * b, 32);
            for (var t = 0; t < 32; t++)
            {
                if (type == GgmlType.Q8_0)
                {
                    dst[t] = d * (blk[t / 4 * 32 + t % 4] - 128);
                }
                else
                {
                    var j = t % 16;
                    var v = blk[j / 4 * 32 + j % 4];
                    dst[t] = d * ((t < 16 ? v & 0x0F : v >> 4) - 8);
                }
            }
        }
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
        GgmlType type, Span<float> c, int ldc, int m, int n, int k)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            throw new PlatformNotSupportedException("The interleaved int8 GEMM needs AVX2 and FMA.");
        }
        var nbk = k / 32;
        var groups = GroupsOf(n);
        var groupBytes = GroupBytes(type, k);
        if (!Handles(type) || aq.Length < m * k || ad.Length < m * nbk || aoff.Length < m * nbk || panel.Length < (long)groups * groupBytes
            || scales.Length < groups * nbk * Group || (m > 0 && c.Length < (m - 1) * ldc + n) || k % 32 != 0)
        {
            throw new ArgumentException($"Interleaved int8 GEMM: buffers too small or bad shape (m={m}, n={n}, k={k}, {type}).");
        }
        var q8 = type == GgmlType.Q8_0;
        Span<float> tmp = stackalloc float[2 * Group * 3];
        fixed (sbyte* pa = aq)
        fixed (float* pad = ad)
        fixed (int* pao = aoff)
        fixed (byte* pw = panel)
        fixed (float* ps = scales)
        fixed (float* pc = c)
        fixed (float* pt = tmp)
        {
            var args = new Args { K = k, Nbk = nbk, BlockBytes = GroupBlockBytes(type) };
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
                // Q4_0: 3 rows × 16 columns (6 int16 + 6 float accumulators); Q8_0's second plane needs more
                // accumulators, so 2 rows × 16 columns keep everything in the 16 ymm registers.
                var tileRows = q8 ? 2 : 3;
                for (; i + tileRows <= m; i += tileRows)
                {
                    var dst = direct ? pc + (nint)i * ldc + g * Group : pt;
                    if (q8)
                    {
                        Tile2Q8(args, (byte*)pa + (nint)i * k, pad + (nint)i * nbk, pao + (nint)i * nbk, w0, w1, s0, s1, dst, direct ? ldc : 2 * Group);
                    }
                    else
                    {
                        Tile3Q4(args, (byte*)pa + (nint)i * k, pad + (nint)i * nbk, pao + (nint)i * nbk, w0, w1, s0, s1, dst, direct ? ldc : 2 * Group);
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
                    if (q8)
                    {
                        Tile1Q8(args, (byte*)pa + (nint)i * k, pad + (nint)i * nbk, pao + (nint)i * nbk, w0, w1, s0, s1, dst);
                    }
                    else
                    {
                        Tile1Q4(args, (byte*)pa + (nint)i * k, pad + (nint)i * nbk, pao + (nint)i * nbk, w0, w1, s0, s1, dst);
                    }
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
        public int BlockBytes;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Quad(byte* a) => Avx2.BroadcastScalarToVector256((int*)a).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Lo(Vector256<byte> v) => Avx2.And(v, Vector256.Create((byte)0x0F));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Hi(Vector256<byte> v) => Avx2.And(Avx2.ShiftRightLogical(v.AsUInt16(), 4).AsByte(), Vector256.Create((byte)0x0F));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Dot4(Vector256<short> acc, Vector256<byte> w, Vector256<sbyte> a) => Avx2.Add(acc, Avx2.MultiplyAddAdjacent(w, a));

    // c += (dw ⊙ da)·float(isum − offset): the float step of one block for 8 outputs.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Step(Vector256<float> acc, Vector256<int> isum, Vector256<int> off, Vector256<float> da, float* ws) =>
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Subtract(isum, off)), Avx.LoadVector256(ws) * da, acc);

    // Q4_0, one activation row × 16 columns. The int16 block sums are exact (no overflow), so the quad order does not
    // change them; the float steps are those of the 3-row tile.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1Q4(Args x, byte* a, float* ad, int* ao, byte* w0, byte* w1, float* s0, float* s1, float* c)
    {
        var one = Vector256.Create((short)1);
        Vector256<float> f0 = default, f1 = default;
        for (var b = 0; b < x.Nbk; b++)
        {
            var u = w0 + b * x.BlockBytes;
            var v = w1 + b * x.BlockBytes;
            var ab = a + 32 * b;
            Vector256<short> t0 = default, t1 = default;
            for (var q = 0; q < 4; q++)
            {
                var wu = Avx.LoadVector256(u + 32 * q);
                var wv = Avx.LoadVector256(v + 32 * q);
                var xl = Quad(ab + 4 * q);
                var xh = Quad(ab + 16 + 4 * q);
                t0 = Dot4(Dot4(t0, Lo(wu), xl), Hi(wu), xh);
                t1 = Dot4(Dot4(t1, Lo(wv), xl), Hi(wv), xh);
            }
            var off = Avx2.BroadcastScalarToVector256(ao + b);
            var da = Avx.BroadcastScalarToVector256(ad + b);
            f0 = Step(f0, Avx2.MultiplyAddAdjacent(t0, one), off, da, s0 + b * Group);
            f1 = Step(f1, Avx2.MultiplyAddAdjacent(t1, one), off, da, s1 + b * Group);
        }
        Avx.Store(c, f0);
        Avx.Store(c + Group, f1);
    }

    // Q4_0: three activation rows × 16 columns sharing every weight load; per output exactly the operations of Tile1Q4.
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
            var u = w0 + b * x.BlockBytes;
            var v = w1 + b * x.BlockBytes;
            var ab = 32 * b;
            Vector256<short> t00 = default, t01 = default, t10 = default, t11 = default, t20 = default, t21 = default;
            for (var q = 0; q < 4; q++)
            {
                var ru = Avx.LoadVector256(u + 32 * q);
                var rv = Avx.LoadVector256(v + 32 * q);
                var o = ab + 4 * q;
                var wu = Lo(ru);
                var wv = Lo(rv);
                var x0 = Quad(a0 + o);
                t00 = Dot4(t00, wu, x0);
                t01 = Dot4(t01, wv, x0);
                var x1 = Quad(a1 + o);
                t10 = Dot4(t10, wu, x1);
                t11 = Dot4(t11, wv, x1);
                var x2 = Quad(a2 + o);
                t20 = Dot4(t20, wu, x2);
                t21 = Dot4(t21, wv, x2);
                wu = Hi(ru);
                wv = Hi(rv);
                o += 16;
                x0 = Quad(a0 + o);
                t00 = Dot4(t00, wu, x0);
                t01 = Dot4(t01, wv, x0);
                x1 = Quad(a1 + o);
                t10 = Dot4(t10, wu, x1);
                t11 = Dot4(t11, wv, x1);
                x2 = Quad(a2 + o);
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

    // Q8_0, one activation row × 16 columns: high plane (×16) then low plane per block.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1Q8(Args x, byte* a, float* ad, int* ao, byte* w0, byte* w1, float* s0, float* s1, float* c)
    {
        var one = Vector256.Create((short)1);
        var sixteen = Vector256.Create((short)16);
        Vector256<float> f0 = default, f1 = default;
        for (var b = 0; b < x.Nbk; b++)
        {
            var u = w0 + b * x.BlockBytes;
            var v = w1 + b * x.BlockBytes;
            var ab = a + 32 * b;
            Vector256<short> h0 = default, h1 = default, l0 = default, l1 = default;
            for (var q = 0; q < 8; q++)
            {
                var ru = Avx.LoadVector256(u + 32 * q);
                var rv = Avx.LoadVector256(v + 32 * q);
                var xa = Quad(ab + 4 * q);
                h0 = Dot4(h0, Hi(ru), xa);
                h1 = Dot4(h1, Hi(rv), xa);
                l0 = Dot4(l0, Lo(ru), xa);
                l1 = Dot4(l1, Lo(rv), xa);
            }
            var i0 = Avx2.Add(Avx2.MultiplyAddAdjacent(h0, sixteen), Avx2.MultiplyAddAdjacent(l0, one));
            var i1 = Avx2.Add(Avx2.MultiplyAddAdjacent(h1, sixteen), Avx2.MultiplyAddAdjacent(l1, one));
            var off = Avx2.BroadcastScalarToVector256(ao + b);
            var da = Avx.BroadcastScalarToVector256(ad + b);
            f0 = Step(f0, i0, off, da, s0 + b * Group);
            f1 = Step(f1, i1, off, da, s1 + b * Group);
        }
        Avx.Store(c, f0);
        Avx.Store(c + Group, f1);
    }

    // One 32-block of one nibble plane of Q8_0, two activation rows × 16 columns: the int16 sums of the 8 quads.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block2x16(byte* u, byte* v, byte* a0, byte* a1, bool high, out Vector256<short> t00, out Vector256<short> t01, out Vector256<short> t10, out Vector256<short> t11)
    {
        t00 = default;
        t01 = default;
        t10 = default;
        t11 = default;
        for (var q = 0; q < 8; q++)
        {
            var ru = Avx.LoadVector256(u + 32 * q);
            var rv = Avx.LoadVector256(v + 32 * q);
            var wu = high ? Hi(ru) : Lo(ru);
            var wv = high ? Hi(rv) : Lo(rv);
            var x0 = Quad(a0 + 4 * q);
            t00 = Dot4(t00, wu, x0);
            t01 = Dot4(t01, wv, x0);
            var x1 = Quad(a1 + 4 * q);
            t10 = Dot4(t10, wu, x1);
            t11 = Dot4(t11, wv, x1);
        }
    }

    // Q8_0: two activation rows × 16 columns; per output exactly the operations of Tile1Q8.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile2Q8(Args x, byte* a0, float* ad0, int* ao0, byte* w0, byte* w1, float* s0, float* s1, float* c, int ldc)
    {
        var k = x.K;
        var nbk = x.Nbk;
        var a1 = a0 + k;
        var one = Vector256.Create((short)1);
        var sixteen = Vector256.Create((short)16);
        Vector256<float> f00 = default, f01 = default, f10 = default, f11 = default;
        for (var b = 0; b < nbk; b++)
        {
            var u = w0 + b * x.BlockBytes;
            var v = w1 + b * x.BlockBytes;
            var ab = 32 * b;
            Block2x16(u, v, a0 + ab, a1 + ab, true, out var t00, out var t01, out var t10, out var t11);
            var i00 = Avx2.MultiplyAddAdjacent(t00, sixteen);
            var i01 = Avx2.MultiplyAddAdjacent(t01, sixteen);
            var i10 = Avx2.MultiplyAddAdjacent(t10, sixteen);
            var i11 = Avx2.MultiplyAddAdjacent(t11, sixteen);
            Block2x16(u, v, a0 + ab, a1 + ab, false, out t00, out t01, out t10, out t11);
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
