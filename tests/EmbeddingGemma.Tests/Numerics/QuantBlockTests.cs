using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Numerics.Quantization;

namespace EmbeddingGemma.Tests.Numerics;

/// <summary>Block sizes, and each dequantizer on blocks built by hand with known values.</summary>
public class QuantBlockTests
{
    [Fact]
    public void Block_structs_have_ggml_sizes()
    {
        Assert.Equal(34, Unsafe.SizeOf<BlockQ8_0>());
        Assert.Equal(18, Unsafe.SizeOf<BlockQ4_0>());
        Assert.Equal(34, GgmlTypeInfo.BlockBytes(GgmlType.Q8_0));
        Assert.Equal(18, GgmlTypeInfo.BlockBytes(GgmlType.Q4_0));
    }

    private static ushort H(float v) => ScalarQuant.FloatToF16(v);

    private static float[] Deq(GgmlType type, byte[] block)
    {
        var y = new float[GgmlTypeInfo.BlockSize(type)];
        ScalarQuant.Dequantize(type, block, y);
        return y;
    }

    [Fact]
    public void Q4_1_is_q_times_d_plus_m()
    {
        var b = new byte[20];
        BinaryPrimitives.WriteUInt16LittleEndian(b, H(0.5f));
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), H(-1f));
        for (var j = 0; j < 16; j++)
        {
            b[4 + j] = (byte)(j | ((15 - j) << 4));
        }
        var y = Deq(GgmlType.Q4_1, b);
        for (var j = 0; j < 16; j++)
        {
            Assert.Equal(j * 0.5f - 1f, y[j]);
            Assert.Equal((15 - j) * 0.5f - 1f, y[16 + j]);
        }
    }

    [Fact]
    public void Q5_0_and_Q5_1_take_the_fifth_bit_from_qh()
    {
        var b = new byte[22];
        BinaryPrimitives.WriteUInt16LittleEndian(b, H(2f));
        // high bit set for elements 0 and 17 only
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(2), (1u << 0) | (1u << 17));
        for (var j = 0; j < 16; j++)
        {
            b[6 + j] = 0x31;  // low nibble 1, high nibble 3
        }
        var y = Deq(GgmlType.Q5_0, b);
        Assert.Equal((17 - 16) * 2f, y[0]);   // 1 | 16
        Assert.Equal((1 - 16) * 2f, y[1]);
        Assert.Equal((3 - 16) * 2f, y[16]);
        Assert.Equal((19 - 16) * 2f, y[17]);  // 3 | 16

        var c = new byte[24];
        BinaryPrimitives.WriteUInt16LittleEndian(c, H(0.25f));
        BinaryPrimitives.WriteUInt16LittleEndian(c.AsSpan(2), H(10f));
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(4), 1u << 31);
        for (var j = 0; j < 16; j++)
        {
            c[8 + j] = 0xF2;
        }
        var z = Deq(GgmlType.Q5_1, c);
        Assert.Equal(2 * 0.25f + 10f, z[0]);
        Assert.Equal(15 * 0.25f + 10f, z[16]);
        Assert.Equal(31 * 0.25f + 10f, z[31]);
    }

    [Fact]
    public void Q4_K_uses_six_bit_scales_and_mins()
    {
        var b = new byte[144];
        BinaryPrimitives.WriteUInt16LittleEndian(b, H(1f));      // d
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), H(0.5f)); // dmin
        var sc = b.AsSpan(4, 12);
        // sub-block 0: scale 3, min 2; sub-block 1: scale 5, min 4; sub-block 4: scale 33 (=1 | 2<<4), min 18 (=2 | 1<<4)
        sc[0] = 3; sc[4] = 2; sc[1] = 5; sc[5] = 4;
        sc[8] = 0x21;                // low nibble of scale 4 = 1, low nibble of min 4 = 2
        sc[0] |= 2 << 6;             // high bits of scale 4 = 2
        sc[4] |= 1 << 6;             // high bits of min 4 = 1
        b[16] = 0x97;                // qs[0]: low 7 (sub-block 0), high 9 (sub-block 1)
        b[16 + 64] = 0x0A;           // qs of group 2, element 0: low nibble 10 (sub-block 4)
        var y = Deq(GgmlType.Q4_K, b);
        Assert.Equal(1f * 3 * 7 - 0.5f * 2, y[0]);
        Assert.Equal(1f * 5 * 9 - 0.5f * 4, y[32]);
        Assert.Equal(1f * 33 * 10 - 0.5f * 18, y[128]);
        Assert.Equal(-0.5f * 2, y[1]);
    }

    [Fact]
    public void Q5_K_adds_sixteen_from_qh()
    {
        var b = new byte[176];
        BinaryPrimitives.WriteUInt16LittleEndian(b, H(1f));
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), H(0f));
        var sc = b.AsSpan(4, 12);
        sc[0] = 1; sc[1] = 1; sc[2] = 2; sc[3] = 1;
        b[16 + 0] = 0b0000_0110;     // qh[0]: bit1 (sub-block 1) and bit2 (sub-block 2)
        b[48 + 0] = 0x53;            // qs[0]: low 3, high 5
        b[48 + 32] = 0x04;           // group 1 qs[0]: low 4
        var y = Deq(GgmlType.Q5_K, b);
        Assert.Equal(3f, y[0]);                 // sub-block 0: no high bit
        Assert.Equal(5f + 16f, y[32]);          // sub-block 1: high bit set
        Assert.Equal(2f * (4 + 16), y[64]);     // sub-block 2, scale 2
    }

    [Fact]
    public void Q6_K_combines_low_and_high_bits_minus_32()
    {
        var b = new byte[210];
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(208), H(0.5f));
        for (var i = 0; i < 16; i++)
        {
            b[192 + i] = (byte)(sbyte)(i % 2 == 0 ? 2 : -3);
        }
        b[0] = 0x21;              // ql[0]: low 1 (y0), high 2 (y64)
        b[32] = 0x43;             // ql[32]: low 3 (y32), high 4 (y96)
        b[128] = 0b11_10_01_00;   // qh[0]: y0 +0, y32 +16, y64 +32, y96 +48
        var y = Deq(GgmlType.Q6_K, b);
        Assert.Equal(0.5f * 2 * (1 - 32), y[0]);         // scale index 0
        Assert.Equal(0.5f * 2 * (3 + 16 - 32), y[32]);   // scale index 2
        Assert.Equal(0.5f * 2 * (2 + 32 - 32), y[64]);   // scale index 4
        Assert.Equal(0.5f * 2 * (4 + 48 - 32), y[96]);   // scale index 6
        Assert.Equal(0.5f * -3 * (0 - 32), y[16]);       // element 16 uses scale index 1
    }

    [Fact]
    public void Q2_K_uses_nibble_scales_and_mins()
    {
        var b = new byte[84];
        b[0] = 0x13;    // sub-block 0: scale 3, min 1
        b[1] = 0x25;    // sub-block 1: scale 5, min 2
        b[16] = 0b00_00_00_10;   // qs[0]: element 0 = 2
        b[16 + 16] = 0b01;       // qs[16]: element 16 = 1
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(80), H(1f));
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(82), H(0.5f));
        var y = Deq(GgmlType.Q2_K, b);
        Assert.Equal(3f * 2 - 0.5f, y[0]);
        Assert.Equal(5f * 1 - 1f, y[16]);
        Assert.Equal(-0.5f, y[1]);
    }

    [Fact]
    public void Q3_K_subtracts_four_without_the_high_mask_bit()
    {
        var b = new byte[110];
        // scale 0 = low nibble 1 | high 2 bits 2 → 33 − 32 = 1; scale 1 = 0 | 0 → −32
        b[96 + 0] = 0x01;
        b[96 + 8] = 0b10;
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(108), H(2f));
        b[0] = 0x01;          // hmask[0] bit 0 set: element 0 has no −4
        b[32] = 0x03;         // qs[0]: element 0 = 3
        var y = Deq(GgmlType.Q3_K, b);
        Assert.Equal(2f * 1 * 3, y[0]);
        Assert.Equal(2f * 1 * (0 - 4), y[1]);
        Assert.Equal(2f * -32 * (0 - 4), y[16]);
    }

    [Fact]
    public void Q8_0_and_Q4_0_round_trip_through_weight_matrix_rows()
    {
        var rng = new Random(3);
        var x = Enumerable.Range(0, 64).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        foreach (var t in new[] { GgmlType.Q8_0, GgmlType.Q4_0 })
        {
            var wm = WeightMatrix.Quantize("t", x, 1, 64, t);
            var row = new float[64];
            wm.DequantizeRow(0, row);
            var maxErr = x.Zip(row, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(maxErr < (t == GgmlType.Q8_0 ? 0.5f / 127 * 1.01 : 0.5f / 8 * 1.01), $"{t} max err {maxErr}");
        }
    }
}
