using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using EmbeddingGemma.Numerics.Kernels;
using EmbeddingGemma.Numerics.Quantization;

namespace EmbeddingGemma.Numerics;

/// <summary>
/// A weight matrix W [Rows = out, Cols = in], row-major as PyTorch and GGUF store it, of any supported
/// <see cref="GgmlType"/>, over memory the caller owns (typically the memory-mapped model file: no second copy).
/// <see cref="MatMul"/> computes C[m, Rows] = A[m, Cols]·Wᵀ; the storage type is chosen once at load, so model code
/// has no quantization branches.
/// <list type="bullet">
/// <item>F32: the fp32 register-tiled GEMM reads W in place.</item>
/// <item>BF16, F16 (and, slowly, every other type with a dequantizer): panels of 48 rows are converted to fp32 on
/// the fly into a per-thread buffer, fp32 accumulation.</item>
/// <item>Q8_0, Q4_0: activations are quantized per 32-block to Q8 (as llama.cpp does) and multiplied with integer dot
/// products; Q4_0 panels are unpacked to int8 on the fly.</item>
/// </list>
/// Work is split over (row block × column block) tiles; each output element is computed by the same operations
/// whatever the thread count or the other rows of A, so results are bit-identical across batchings.
/// </summary>
public sealed class WeightMatrix
{
    /// <summary>Rows of a weight panel (a multiple of the fp32 tile width 3 and the int8 tile width 2).</summary>
    internal const int PanelRows = 48;

    /// <summary>Activation rows per work item (a multiple of the tile height 4).</summary>
    internal const int BlockRows = 64;

    [ThreadStatic] private static AlignedBuffer<float>? t_panel;
    [ThreadStatic] private static sbyte[]? t_qpanel;
    [ThreadStatic] private static float[]? t_qscales;
    [ThreadStatic] private static AlignedBuffer<byte>? t_xpanel;
    [ThreadStatic] private static AlignedBuffer<float>? t_xscales;

    private readonly ReadOnlyMemory<byte> _data;
    private readonly long _rowBytes;
    private byte[]? _packed;
    private float[]? _packedScales;

    private WeightMatrix(string name, GgmlType type, int rows, int cols, ReadOnlyMemory<byte> data)
    {
        Name = name;
        Type = type;
        Rows = rows;
        Cols = cols;
        _data = data;
        _rowBytes = GgmlTypeInfo.RowBytes(type, cols);
    }

    /// <summary>Tensor name (for error messages).</summary>
    public string Name { get; }

    /// <summary>Storage type.</summary>
    public GgmlType Type { get; }

    /// <summary>Output features (rows of W).</summary>
    public int Rows { get; }

    /// <summary>Input features (columns of W).</summary>
    public int Cols { get; }

    /// <summary>The raw bytes (ggml layout).</summary>
    public ReadOnlyMemory<byte> Data => _data;

    /// <summary>True when the matrix holds its int8 GEMM layout, packed once (see <see cref="PackForProducts"/>).</summary>
    public bool IsPacked => _packed is not null;

    /// <summary>Bytes this matrix keeps in process memory beyond its source (the packed layout), for memory accounting.</summary>
    public long PackedBytes => (_packed?.LongLength ?? 0) + 4L * (_packedScales?.LongLength ?? 0);

    /// <summary>
    /// For Q4_0 and Q8_0 on AVX2 machines: packs the matrix once into the interleaved layout the int8 GEMM reads (as
    /// compact as the file: 4.5 or 8.5 bits per weight with fp32 scales), so no product repacks panels again (a
    /// 32-token query used to spend much of its time repacking), then releases the source pages of a memory-mapped
    /// file from the resident set (they are read again only if a row is dequantized). Other types: nothing to do.
    /// Call once at load, before the matrix is shared between threads; idempotent.
    /// </summary>
    public void PackForProducts()
    {
        if (_packed is not null || !Q8Interleaved.Handles(Type) || !System.Runtime.Intrinsics.X86.Avx2.IsSupported || !System.Runtime.Intrinsics.X86.Fma.IsSupported)
        {
            return;
        }
        var groups = Q8Interleaved.GroupsOf(Rows);
        var groupBytes = Q8Interleaved.GroupBytes(Type, Cols);
        var groupScales = Cols / 32 * Q8Interleaved.Group;
        var packed = GC.AllocateUninitializedArray<byte>(checked((int)Q8Interleaved.PanelBytes(Type, Rows, Cols)));
        var scales = GC.AllocateUninitializedArray<float>(checked((int)Q8Interleaved.PanelScales(Rows, Cols)));
        const int groupsPerItem = 16;
        Parallel.For(0, (groups + groupsPerItem - 1) / groupsPerItem, item =>
        {
            var g0 = item * groupsPerItem;
            var g1 = Math.Min(groups, g0 + groupsPerItem);
            var r0 = g0 * Q8Interleaved.Group;
            var rows = Math.Min(Rows, g1 * Q8Interleaved.Group) - r0;
            Q8Interleaved.Pack(Type, _data.Span[(int)(r0 * _rowBytes)..], _rowBytes, rows, Cols,
                packed.AsSpan(g0 * groupBytes, (g1 - g0) * groupBytes), scales.AsSpan(g0 * groupScales, (g1 - g0) * groupScales));
        });
        _packed = packed;
        _packedScales = scales;
        WeightMemory.ReleasePages(_data);
    }

    /// <summary>Types <see cref="MatMul"/> runs with a fast kernel; other dequantizable types run through fp32 panels.</summary>
    public static bool IsFastType(GgmlType type) => type is GgmlType.F32 or GgmlType.BF16 or GgmlType.F16 or GgmlType.Q8_0 or GgmlType.Q4_0;

    /// <summary>
    /// Wraps <paramref name="data"/> (exactly rows × row bytes) as a weight matrix. Throws
    /// <see cref="EmbeddingGemmaException"/> naming the tensor for an unsupported type or a wrong size.
    /// </summary>
    public static WeightMatrix Create(string name, GgmlType type, int rows, int cols, ReadOnlyMemory<byte> data)
    {
        if (!ScalarQuant.CanDequantize(type))
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"Tensor '{name}': ggml type {type} ({(uint)type}) is not supported for weights (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K).");
        }
        if (rows <= 0 || cols <= 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"Tensor '{name}': shape [{rows}, {cols}] is empty.");
        }
        if (cols % GgmlTypeInfo.BlockSize(type) != 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"Tensor '{name}': {cols} columns is not a multiple of the {type} block size {GgmlTypeInfo.BlockSize(type)}.");
        }
        var need = GgmlTypeInfo.RowBytes(type, cols) * rows;
        if (data.Length != need)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"Tensor '{name}': {type} [{rows}, {cols}] needs {need} bytes, got {data.Length}.");
        }
        return new WeightMatrix(name, type, rows, cols, data);
    }

    /// <summary>Wraps a float32 array [rows, cols] in place (the array is pinned, not copied).</summary>
    public static WeightMatrix FromFloats(string name, float[] values, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(values);
        return Create(name, GgmlType.F32, rows, cols, WeightMemory.FromFloats(values));
    }

    /// <summary>Quantizes/converts float32 values [rows, cols] to <paramref name="type"/> with the scalar reference quantizer.</summary>
    public static WeightMatrix Quantize(string name, ReadOnlySpan<float> values, int rows, int cols, GgmlType type)
    {
        var rowBytes = GgmlTypeInfo.RowBytes(type, cols);
        var bytes = new byte[rowBytes * rows];
        for (var r = 0; r < rows; r++)
        {
            ScalarQuant.Quantize(type, values.Slice(r * cols, cols), bytes.AsSpan((int)(r * rowBytes), (int)rowBytes));
        }
        return Create(name, type, rows, cols, bytes);
    }

    /// <summary>Row <paramref name="row"/> as float32 (the embedding lookup; any dequantizable type).</summary>
    public void DequantizeRow(int row, Span<float> destination)
    {
        if ((uint)row >= (uint)Rows)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Tensor '{Name}': row {row} is outside 0..{Rows - 1}.");
        }
        Check.SameLength(Cols, destination.Length, nameof(destination));
        if (_packed is not null)
        {
            // the packed copy holds exactly the stored values (the source pages were released)
            Q8Interleaved.UnpackRow(Type, _packed, _packedScales!, row, Cols, destination);
            return;
        }
        var bytes = _data.Span.Slice((int)(row * _rowBytes), (int)_rowBytes);
        switch (Type)
        {
            case GgmlType.F32:
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(destination);
                break;
            case GgmlType.BF16:
                KernelCatalog.Default.Bf16ToSingle(MemoryMarshal.Cast<byte, ushort>(bytes), destination);
                break;
            default:
                ScalarQuant.Dequantize(Type, bytes, destination);
                break;
        }
    }

    /// <summary>The whole matrix as float32 [Rows, Cols] (tests, reference comparisons).</summary>
    public float[] Dequantize()
    {
        var all = new float[(long)Rows * Cols];
        for (var r = 0; r < Rows; r++)
        {
            DequantizeRow(r, all.AsSpan(r * Cols, Cols));
        }
        return all;
    }

    /// <summary>
    /// destination[i, j] = Σ_k activations[i, k]·W[j, k] for i &lt; <paramref name="m"/>; activations are
    /// [m, Cols] row-major, destination [m, Rows]. <paramref name="threads"/> ≤ 0 means
    /// <see cref="KernelCatalog.DefaultThreads"/>; <paramref name="kernels"/> null means <see cref="KernelCatalog.Default"/>.
    /// </summary>
    public unsafe void MatMul(ReadOnlySpan<float> activations, int m, Span<float> destination, int threads = 0, KernelSet? kernels = null)
    {
        Check.AtLeast(m * Rows, destination.Length, nameof(destination));
        fixed (float* pc = destination)
        {
            MatMulCore(activations, m, [this], [(nint)pc], threads, kernels ?? KernelCatalog.Default);
        }
    }

    /// <summary>
    /// The same activations [m, Cols] times several matrices at once (Q, K and V; gate and up): one parallel region for
    /// all of them, and for int8 types one activation quantization shared by all. <paramref name="destinations"/>[i]
    /// receives [m, weights[i].Rows]. Each output is bit-identical to what <see cref="MatMul"/> gives.
    /// </summary>
    public static unsafe void MatMulShared(ReadOnlySpan<float> activations, int m, ReadOnlySpan<WeightMatrix> weights, ReadOnlySpan<Memory<float>> destinations, int threads = 0, KernelSet? kernels = null)
    {
        if (weights.Length != destinations.Length || weights.Length == 0)
        {
            throw new ArgumentException($"{weights.Length} matrices need as many destinations (got {destinations.Length}).", nameof(destinations));
        }
        var handles = new System.Buffers.MemoryHandle[destinations.Length];
        var ptrs = new nint[destinations.Length];
        try
        {
            for (var i = 0; i < destinations.Length; i++)
            {
                Check.AtLeast(m * weights[i].Rows, destinations[i].Length, nameof(destinations));
                handles[i] = destinations[i].Pin();
                ptrs[i] = (nint)handles[i].Pointer;
            }
            MatMulCore(activations, m, weights, ptrs, threads, kernels ?? KernelCatalog.Default);
        }
        finally
        {
            foreach (var h in handles)
            {
                h.Dispose();
            }
        }
    }

    private enum Path
    {
        F32,
        Interleaved,
        LegacyInt8,
        Panel,
    }

    /// <summary>
    /// Up to this many activation rows, F32 panels are first copied into the thread's cache-aligned panel buffer: a short
    /// query reuses each weight only a few times, and the GEMM then reads it from L2 in one sequential pass instead of
    /// three strided streams from DRAM (same values, same operations: results unchanged).
    /// </summary>
    internal const int CopyF32PanelsUpToRows = 128;

    private Path PathFor(KernelSet kernels, int m) => Type switch
    {
        GgmlType.F32 when m <= CopyF32PanelsUpToRows => Path.Panel,
        GgmlType.F32 => Path.F32,
        GgmlType.Q8_0 or GgmlType.Q4_0 when UseInterleaved(kernels) => Path.Interleaved,
        GgmlType.Q8_0 or GgmlType.Q4_0 => Path.LegacyInt8,
        _ => Path.Panel,
    };

    private static unsafe void MatMulCore(ReadOnlySpan<float> activations, int m, ReadOnlySpan<WeightMatrix> weights, nint[] outputs, int threads, KernelSet kernels)
    {
        if (m < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(m), m, "Row count must not be negative.");
        }
        var k = weights[0].Cols;
        foreach (var w in weights)
        {
            if (w.Cols != k)
            {
                throw new ArgumentException($"Tensor '{w.Name}' has {w.Cols} columns; the shared activations have {k}.", nameof(weights));
            }
        }
        Check.AtLeast(m * k, activations.Length, nameof(activations));
        if (m == 0)
        {
            return;
        }
        var mats = weights.ToArray();
        var paths = mats.Select(w => w.PathFor(kernels, m)).ToArray();
        var mBlocks = (m + BlockRows - 1) / BlockRows;
        // Items: matrix by matrix, panel by panel, row block by row block.
        var firstItem = new int[mats.Length + 1];
        for (var i = 0; i < mats.Length; i++)
        {
            firstItem[i + 1] = firstItem[i] + mBlocks * ((mats[i].Rows + PanelRows - 1) / PanelRows);
        }
        var nbk = k / 32;
        var int8 = paths.Any(p => p is Path.Interleaved or Path.LegacyInt8);
        sbyte[]? aq = null;
        float[]? ad = null;
        int[]? asum = null;
        var offsets = new Dictionary<int, int[]>();
        try
        {
            fixed (float* pa = activations)
            {
                var a = (nint)pa;
                if (int8)
                {
                    aq = ArrayPool<sbyte>.Shared.Rent(m * k);
                    ad = ArrayPool<float>.Shared.Rent(m * nbk);
                    asum = ArrayPool<int>.Shared.Rent(m * nbk);
                    var useFused = paths.Contains(Path.Interleaved);
                    // a short batch (a query) is quantized on the calling thread: a parallel region would cost more
                    WorkSplitter.For(m, (long)m * k <= 1 << 16 ? 1 : threads, (start, end) =>
                    {
                        var aa = new ReadOnlySpan<float>((float*)a, m * k);
                        for (var i = start; i < end; i++)
                        {
                            if (useFused)
                            {
                                Q8Interleaved.QuantizeRow(aa.Slice(i * k, k), aq.AsSpan(i * k, k), ad.AsSpan(i * nbk, nbk), 1, asum.AsSpan(i * nbk, nbk));
                            }
                            else
                            {
                                kernels.QuantizeRowQ8(aa.Slice(i * k, k), aq.AsSpan(i * k, k), ad.AsSpan(i * nbk, nbk));
                            }
                        }
                    });
                    for (var i = 0; i < mats.Length; i++)
                    {
                        var off = Q8Interleaved.Offset(mats[i].Type);
                        if (paths[i] == Path.Interleaved && !offsets.ContainsKey(off))
                        {
                            var o = ArrayPool<int>.Shared.Rent(m * nbk);
                            for (var t = 0; t < m * nbk; t++)
                            {
                                o[t] = off * asum[t];
                            }
                            offsets[off] = o;
                        }
                    }
                }
                // Room for a panel of either int8 type (Q8_0's is the larger), for matrices not packed at load.
                var panelBytes = (int)Q8Interleaved.PanelBytes(GgmlType.Q8_0, PanelRows, k);
                var panelScales = (int)Q8Interleaved.PanelScales(PanelRows, k);
                WorkSplitter.For(firstItem[^1], threads, (start, end) =>
                {
                    var aa = new ReadOnlySpan<float>((float*)a, m * k);
                    var loadedMatrix = -1;
                    var loadedPanel = -1;
                    var w = 0;
                    for (var it = start; it < end; it++)
                    {
                        while (it >= firstItem[w + 1])
                        {
                            w++;
                        }
                        var mat = mats[w];
                        var n = mat.Rows;
                        var local = it - firstItem[w];
                        int nb = local / mBlocks, mb = local % mBlocks;
                        int i0 = mb * BlockRows, j0 = nb * PanelRows;
                        int mm = Math.Min(BlockRows, m - i0), nn = Math.Min(PanelRows, n - j0);
                        var cc = new Span<float>((float*)outputs[w], m * n);
                        var fresh = loadedMatrix != w || loadedPanel != nb;
                        loadedMatrix = w;
                        loadedPanel = nb;
                        switch (paths[w])
                        {
                            case Path.F32:
                            {
                                var wf = MemoryMarshal.Cast<byte, float>(mat._data.Span);
                                kernels.GemmTile(aa[(i0 * k)..], k, wf[(j0 * k)..], k, cc[(i0 * n + j0)..], n, mm, nn, k);
                                break;
                            }
                            case Path.Interleaved:
                            {
                                ReadOnlySpan<byte> panel;
                                ReadOnlySpan<float> scales;
                                if (mat._packed is { } pk)
                                {
                                    var g0 = j0 / Q8Interleaved.Group;
                                    panel = pk.AsSpan(g0 * Q8Interleaved.GroupBytes(mat.Type, k));
                                    scales = mat._packedScales!.AsSpan(g0 * nbk * Q8Interleaved.Group);
                                }
                                else
                                {
                                    var buf = (t_xpanel is { } q && q.Length >= panelBytes ? q : t_xpanel = new AlignedBuffer<byte>(panelBytes)).Span;
                                    var sbuf = (t_xscales is { } sc && sc.Length >= panelScales ? sc : t_xscales = new AlignedBuffer<float>(panelScales)).Span;
                                    if (fresh)
                                    {
                                        Q8Interleaved.Pack(mat.Type, mat._data.Span[(int)(j0 * mat._rowBytes)..], mat._rowBytes, nn, k, buf, sbuf);
                                    }
                                    panel = buf;
                                    scales = sbuf;
                                }
                                Q8Interleaved.Gemm(aq.AsSpan(i0 * k, mm * k), ad.AsSpan(i0 * nbk, mm * nbk), offsets[Q8Interleaved.Offset(mat.Type)].AsSpan(i0 * nbk, mm * nbk),
                                    panel, scales, mat.Type, cc[(i0 * n + j0)..], n, mm, nn, k);
                                break;
                            }
                            case Path.LegacyInt8:
                            {
                                var qp = t_qpanel is { } q && q.Length >= PanelRows * k ? q : t_qpanel = new sbyte[PanelRows * k];
                                var qs = t_qscales is { } sc && sc.Length >= PanelRows * nbk ? sc : t_qscales = new float[PanelRows * nbk];
                                if (fresh)
                                {
                                    mat.UnpackQ(j0, nn, qp, qs);
                                }
                                kernels.GemmQ8Tile(aq.AsSpan(i0 * k, mm * k), ad.AsSpan(i0 * nbk, mm * nbk), qp.AsSpan(0, nn * k), qs.AsSpan(0, nn * nbk), cc[(i0 * n + j0)..], n, mm, nn, k);
                                break;
                            }
                            default:
                            {
                                var panel = (t_panel is { } p && p.Length >= PanelRows * k ? p : t_panel = new AlignedBuffer<float>(PanelRows * k)).Span;
                                if (fresh)
                                {
                                    mat.ConvertPanel(j0, nn, panel, kernels);
                                }
                                kernels.GemmTile(aa[(i0 * k)..], k, panel, k, cc[(i0 * n + j0)..], n, mm, nn, k);
                                break;
                            }
                        }
                    }
                });
            }
        }
        finally
        {
            if (aq is not null)
            {
                ArrayPool<sbyte>.Shared.Return(aq);
                ArrayPool<float>.Shared.Return(ad!);
                ArrayPool<int>.Shared.Return(asum!);
            }
            foreach (var o in offsets.Values)
            {
                ArrayPool<int>.Shared.Return(o);
            }
        }
    }

    // The x8-interleaved int8 GEMM (Q8Interleaved) where AVX2 is there and a vector kernel set is chosen.
    private static bool UseInterleaved(KernelSet kernels) => kernels.Int8Gemm == Int8GemmKernel.Interleaved;

    private void ConvertPanel(int row0, int rows, Span<float> panel, KernelSet kernels)
    {
        var span = _data.Span;
        for (var r = 0; r < rows; r++)
        {
            var bytes = span.Slice((int)((row0 + r) * _rowBytes), (int)_rowBytes);
            var dst = panel.Slice(r * Cols, Cols);
            switch (Type)
            {
                case GgmlType.F32:
                    MemoryMarshal.Cast<byte, float>(bytes).CopyTo(dst);
                    break;
                case GgmlType.BF16:
                    kernels.Bf16ToSingle(MemoryMarshal.Cast<byte, ushort>(bytes), dst);
                    break;
                case GgmlType.F16:
                    kernels.F16ToSingle(MemoryMarshal.Cast<byte, ushort>(bytes), dst);
                    break;
                default:
                    ScalarQuant.Dequantize(Type, bytes, dst);
                    break;
            }
        }
    }

    // Q8_0 / Q4_0 rows to plain int8 values and float scales (the fp16 scale converted once per panel).
    private void UnpackQ(int row0, int rows, sbyte[] quants, float[] scales)
    {
        var span = _data.Span;
        var nbk = Cols / 32;
        var mask = Vector128.Create((byte)0x0F);
        var eight = Vector128.Create((sbyte)8);
        for (var r = 0; r < rows; r++)
        {
            var bytes = span.Slice((int)((row0 + r) * _rowBytes), (int)_rowBytes);
            for (var b = 0; b < nbk; b++)
            {
                var dst = quants.AsSpan(r * Cols + 32 * b, 32);
                if (Type == GgmlType.Q8_0)
                {
                    var blk = bytes.Slice(34 * b, 34);
                    scales[r * nbk + b] = ScalarQuant.F16ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(blk));
                    MemoryMarshal.Cast<byte, sbyte>(blk.Slice(2, 32)).CopyTo(dst);
                }
                else
                {
                    var blk = bytes.Slice(18 * b, 18);
                    scales[r * nbk + b] = ScalarQuant.F16ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(blk));
                    var v = Vector128.Create(blk.Slice(2, 16));
                    var lo = (v & mask).AsSByte() - eight;
                    var hi = Vector128.ShiftRightLogical(v, 4).AsSByte() - eight;
                    lo.CopyTo(dst);
                    hi.CopyTo(dst[16..]);
                }
            }
        }
    }
}
