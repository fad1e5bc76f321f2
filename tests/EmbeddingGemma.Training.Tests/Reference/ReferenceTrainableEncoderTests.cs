using EmbeddingGemma.Model;
using EmbeddingGemma.Training.Losses;
using EmbeddingGemma.Training.Reference;

namespace EmbeddingGemma.Training.Tests.Reference;

/// <summary>
/// The fp64 adapter behind <see cref="ITrainableEncoder"/> gives the gradients of the fp64 reference (<see cref="GradientStep"/>,
/// itself checked against finite differences) up to the fp32 rounding of its inputs and outputs, whatever the chunking,
/// and nothing for frozen tensors (empty buffers) or unused embedding rows.
/// </summary>
public sealed class ReferenceTrainableEncoderTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(6)]
    public void GradientsEqualTheFp64ReferenceForAnyChunking(int chunk)
    {
        var ckpt = ModelCheckpoint.Read(WholeModelGradientTests.Model.Folder);
        var columns = WholeModelGradientTests.Columns(ckpt.Config.VocabSize);
        var loss = new MatryoshkaLoss(new MultipleNegativesRankingLoss(), [24, 12]);
        var model = new ReferenceModel(ReferenceParameters.FromCheckpoint(ckpt));
        var expected = model.Parameters.ZerosLike();
        var refLoss = GradientStep.Run(model, columns, null, loss, expected, miniBatch: 3);

        var encoder = new ReferenceTrainableEncoder(ckpt, threads: 2);
        var flat = columns.SelectMany(c => c).ToList();
        var y = encoder.Embed(flat);
        var rows = columns[0].Length;
        var cols = columns.Select((c, ci) => c.Select((_, i) => Array.ConvertAll(y[ci * rows + i], v => (double)v)).ToArray()).ToArray();
        var g = EmbeddingLoss.ZeroGradients(cols);
        var ourLoss = loss.Compute(cols, null, g);
        Assert.True(Math.Abs(ourLoss - refLoss) <= 1e-5 * Math.Abs(refLoss), $"{ourLoss} vs {refLoss}");
        var flatG = g.SelectMany(c => c.Select(v => Array.ConvertAll(v, x => (float)x))).ToArray();
        // the embedding table is frozen (empty buffer): the adapter must leave it and compute the rest
        var buffers = encoder.Tensors.Select((t, i) => i == 0 ? [] : new float[t.Values.Length]).ToArray();
        for (var start = 0; start < flat.Count; start += chunk)
        {
            var n = Math.Min(chunk, flat.Count - start);
            encoder.Backward(flat.GetRange(start, n), flatG[start..(start + n)], buffers);
        }
        Assert.Empty(buffers[0]);
        for (var t = 1; t < buffers.Length; t++)
        {
            var reference = expected.Tensors[t].Values;
            var scale = reference.Max(Math.Abs);
            var worst = reference.Select((r, j) => Math.Abs(r - buffers[t][j])).Max();
            // fp32 inputs/outputs (unit vectors rounded to ~6e-8) against a pure fp64 path: 1e-5 of the tensor's largest entry
            Assert.True(worst <= 1e-5 * scale, $"{encoder.Tensors[t].Name}: {worst:G3} vs max {scale:G3}");
        }
        // embedding rows: with a buffer, only the used rows get a gradient, equal to the reference's
        var emb = new float[encoder.Tensors[0].Values.Length];
        var all = encoder.Tensors.Select((t, i) => i == 0 ? emb : []).ToArray();
        encoder.Backward(flat, flatG, all);
        var h = ckpt.Config.HiddenSize;
        var used = flat.SelectMany(s => s).ToHashSet();
        var embScale = expected.Embedding.Max(Math.Abs);
        for (var row = 0; row < ckpt.Config.VocabSize; row++)
        {
            for (var k = 0; k < h; k++)
            {
                var j = row * h + k;
                if (used.Contains(row))
                {
                    Assert.True(Math.Abs(emb[j] - expected.Embedding[j]) <= 1e-5 * embScale, $"row {row}");
                }
                else
                {
                    Assert.Equal(0f, emb[j]);
                }
            }
        }
    }
}
