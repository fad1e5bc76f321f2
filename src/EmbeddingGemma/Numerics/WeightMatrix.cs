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

    [ThreadStatic] private static float[]? t_panel;
    [ThreadStatic] private static sbyte[]? t_qpanel;
    [ThreadStatic] private static float[]? t_qscales;
    [ThreadStatic] private static byte[]? t_xpanel;
    [ThreadStatic] private static float[]? t_xscales;

    private readonly ReadOnlyMemory<byte> _data;
    private readonly long _rowBytes;

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
        kernels ??= KernelCatalog.Default;
        if (m < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(m), m, "Row count must not be negative.");
        }
        Check.AtLeast(m * Cols, activations.Length, nameof(activations));
        Check.AtLeast(m * Rows, destination.Length, nameof(destination));
        if (m == 0)
        {
            return;
        }
        var mBlocks = (m + BlockRows - 1) / BlockRows;
        var nBlocks = (Rows + PanelRows - 1) / PanelRows;
        var items = mBlocks * nBlocks;
        var k = Cols;
        var n = Rows;
        fixed (float* pa = activations)
        fixed (float* pc = destination)
        {
            var a = (nint)pa;
            var c = (nint)pc;
            if (Type == GgmlType.F32)
            {
                WorkSplitter.For(items, threads, (start, end) =>
                {
                    var w = MemoryMarshal.Cast<byte, float>(_data.Span);
                    var aa = new ReadOnlySpan<float>((float*)a, m * k);
                    var cc = new Span<float>((float*)c, m * n);
                    for (var it = start; it < end; it++)
                    {
                        int nb = it / mBlocks, mb = it % mBlocks;
                        int i0 = mb * BlockRows, j0 = nb * PanelRows;
                        int mm = Math.Min(BlockRows, m - i0), nn = Math.Min(PanelRows, n - j0);
                        kernels.GemmTile(aa[(i0 * k)..], k, w[(j0 * k)..], k, cc[(i0 * n + j0)..], n, mm, nn, k);
                    }
                });
            }
            else if (Type is GgmlType.Q8_0 or GgmlType.Q4_0 && UseInterleaved(kernels))
            {
                MatMulInterleaved(activations, m, a, c, threads, kernels, mBlocks, items);
            }
            else if (Type is GgmlType.Q8_0 or GgmlType.Q4_0)
            {
                var nbk = k / 32;
                var aq = ArrayPool<sbyte>.Shared.Rent(m * k);
                var ad = ArrayPool<float>.Shared.Rent(m * nbk);
                try
                {
                    WorkSplitter.For(m, threads, (start, end) =>
                    {
                        var aa = new ReadOnlySpan<float>((float*)a, m * k);
                        for (var i = start; i < end; i++)
                        {
                            kernels.QuantizeRowQ8(aa.Slice(i * k, k), aq.AsSpan(i * k, k), ad.AsSpan(i * nbk, nbk));
                        }
                    });
                    WorkSplitter.For(items, threads, (start, end) =>
                    {
                        var cc = new Span<float>((float*)c, m * n);
                        var qp = t_qpanel is { } q && q.Length >= PanelRows * k ? q : t_qpanel = new sbyte[PanelRows * k];
                        var qs = t_qscales is { } s && s.Length >= PanelRows * nbk ? s : t_qscales = new float[PanelRows * nbk];
                        var loaded = -1;
                        for (var it = start; it < end; it++)
                        {
                            int nb = it / mBlocks, mb = it % mBlocks;
                            int i0 = mb * BlockRows, j0 = nb * PanelRows;
                            int mm = Math.Min(BlockRows, m - i0), nn = Math.Min(PanelRows, n - j0);
                            if (loaded != nb)
                            {
                                UnpackQ(j0, nn, qp, qs);
                                loaded = nb;
                            }
                            kernels.GemmQ8Tile(aq.AsSpan(i0 * k, mm * k), ad.AsSpan(i0 * nbk, mm * nbk), qp.AsSpan(0, nn * k), qs.AsSpan(0, nn * nbk), cc[(i0 * n + j0)..], n, mm, nn, k);
                        }
                    });
                }
                finally
                {
                    ArrayPool<sbyte>.Shared.Return(aq);
                    ArrayPool<float>.Shared.Return(ad);
                }
            }
            else
            {
                WorkSplitter.For(items, threads, (start, end) =>
                {
                    var aa = new ReadOnlySpan<float>((float*)a, m * k);
                    var cc = new Span<float>((float*)c, m * n);
                    var panel = t_panel is { } p && p.Length >= PanelRows * k ? p : t_panel = new float[PanelRows * k];
                    var loaded = -1;
                    for (var it = start; it < end; it++)
                    {
                        int nb = it / mBlocks, mb = it % mBlocks;
                        int i0 = mb * BlockRows, j0 = nb * PanelRows;
                        int mm = Math.Min(BlockRows, m - i0), nn = Math.Min(PanelRows, n - j0);
                        if (loaded != nb)
                        {
                            ConvertPanel(j0, nn, panel, kernels);
                            loaded = nb;
                        }
                        kernels.GemmTile(aa[(i0 * k)..], k, panel, k, cc[(i0 * n + j0)..], n, mm, nn, k);
                    }
                });
            }
        }
    }

    // The x8-interleaved int8 GEMM (Q8Interleaved) where AVX2 is there and a vector kernel set is chosen.
    private static bool UseInterleaved(KernelSet kernels) =>
        kernels.Variant is KernelVariant.Vector256 or KernelVariant.Vector512 && System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported;

    private unsafe void MatMulInterleaved(ReadOnlySpan<float> activations, int m, nint a, nint c, int threads, KernelSet kernels, int mBlocks, int items)
    {
        var k = Cols;
        var n = Rows;
        var nbk = k / 32;
        var offset = Q8Interleaved.Offset(Type);
        var planes = Q8Interleaved.Planes(Type);
        var aq = ArrayPool<sbyte>.Shared.Rent(m * k);
        var ad = ArrayPool<float>.Shared.Rent(m * nbk);
        var ao = ArrayPool<int>.Shared.Rent(m * nbk);
        try
        {
            WorkSplitter.For(m, threads, (start, end) =>
            {
                var aa = new ReadOnlySpan<float>((float*)a, m * k);
                for (var i = start; i < end; i++)
                {
                    Q8Interleaved.QuantizeRow(aa.Slice(i * k, k), aq.AsSpan(i * k, k), ad.AsSpan(i * nbk, nbk), offset, ao.AsSpan(i * nbk, nbk));
                }
            });
            var panelBytes = Q8Interleaved.PanelBytes(Type, PanelRows, k);
            var panelScales = Q8Interleaved.PanelScales(PanelRows, k);
            WorkSplitter.For(items, threads, (start, end) =>
            {
                var cc = new Span<float>((float*)c, m * n);
                var panel = t_xpanel is { } q && q.Length >= panelBytes ? q : t_xpanel = new byte[panelBytes];
                var scales = t_xscales is { } s && s.Length >= panelScales ? s : t_xscales = new float[panelScales];
                var loaded = -1;
                for (var it = start; it < end; it++)
                {
                    int nb = it / mBlocks, mb = it % mBlocks;
                    int i0 = mb * BlockRows, j0 = nb * PanelRows;
                    int mm = Math.Min(BlockRows, m - i0), nn = Math.Min(PanelRows, n - j0);
                    if (loaded != nb)
                    {
                        Q8Interleaved.Pack(Type, _data.Span[(int)(j0 * _rowBytes)..], _rowBytes, nn, k, panel, scales);
                        loaded = nb;
                    }
                    Q8Interleaved.Gemm(aq.AsSpan(i0 * k, mm * k), ad.AsSpan(i0 * nbk, mm * nbk), ao.AsSpan(i0 * nbk, mm * nbk), panel, scales, planes,
                        cc[(i0 * n + j0)..], n, mm, nn, k);
                }
            });
        }
        finally
        {
            ArrayPool<sbyte>.Shared.Return(aq);
            ArrayPool<float>.Shared.Return(ad);
            ArrayPool<int>.Shared.Return(ao);
        }
    }

    private void ConvertPanel(int row0, int rows, float[] panel, KernelSet kernels)
    {
        var span = _data.Span;
        for (var r = 0; r < rows; r++)
        {
            var bytes = span.Slice((int)((row0 + r) * _rowBytes), (int)_rowBytes);
            var dst = panel.AsSpan(r * Cols, Cols);
            switch (Type)
            {
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
                    scales[r * nbk + b] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(blk));
                    MemoryMarshal.Cast<byte, sbyte>(blk.Slice(2, 32)).CopyTo(dst);
                }
                else
                {
                    var blk = bytes.Slice(18 * b, 18);
                    scales[r * nbk + b] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(blk));
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
