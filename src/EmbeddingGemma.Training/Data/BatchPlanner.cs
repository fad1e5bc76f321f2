namespace EmbeddingGemma.Training.Data;

/// <summary>One planned batch: the dataset it comes from and the row indices in it.</summary>
public sealed record PlannedBatch(int Dataset, int[] Rows);

/// <summary>
/// The order of one epoch, reproducible from (seed, epoch) alone (so a resumed run replays it exactly):
/// <list type="number">
/// <item>each dataset's rows are shuffled (Fisher-Yates with <see cref="System.Random"/> seeded from seed, epoch and
/// dataset index) and cut into batches of <c>batchSize</c> (the last may be smaller); where
/// <c>noDuplicates</c> is set (in-batch-negative losses: MNRL), as sentence-transformers' <c>NoDuplicatesBatchSampler</c>:
/// a row whose text is already in the batch is put off to a later batch;</item>
/// <item>the batches of all datasets are interleaved as sentence-transformers' <c>ProportionalBatchSampler</c>: a seeded
/// shuffle of the list holding each dataset's index once per batch, so each type is drawn in proportion to its size
/// and a batch never mixes types.</item>
/// </list>
/// </summary>
public static class BatchPlanner
{
    /// <summary>Plans epoch <paramref name="epoch"/> (0-based).</summary>
    public static IReadOnlyList<PlannedBatch> Plan(IReadOnlyList<TrainingDataset> datasets, int batchSize, int seed, int epoch, IReadOnlyList<bool> noDuplicates)
    {
        ArgumentNullException.ThrowIfNull(datasets);
        ArgumentNullException.ThrowIfNull(noDuplicates);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var perDataset = new List<Queue<int[]>>();
        for (var d = 0; d < datasets.Count; d++)
        {
            var order = Enumerable.Range(0, datasets[d].Rows.Count).ToArray();
            Shuffle(order, new Random(Mix(seed, epoch, d)));
            var batches = noDuplicates[d] ? NoDuplicateBatches(datasets[d], order, batchSize) : Chunk(order, batchSize);
            perDataset.Add(new Queue<int[]>(batches));
        }
        var which = perDataset.SelectMany((q, d) => Enumerable.Repeat(d, q.Count)).ToArray();
        Shuffle(which, new Random(Mix(seed, epoch, -1)));
        return which.Select(d => new PlannedBatch(d, perDataset[d].Dequeue())).ToList();
    }

    /// <summary>A seed for (seed, epoch, stream): a fixed integer mix, stable across runs and platforms.</summary>
    internal static int Mix(int seed, int epoch, int stream)
    {
        unchecked
        {
            var h = (uint)seed * 0x9E3779B1u;
            h ^= (uint)epoch * 0x85EBCA77u + 0x165667B1u;
            h = (h ^ (h >> 15)) * 0x2C1B3C6Du;
            h ^= (uint)stream * 0xC2B2AE3Du + 0x27D4EB2Fu;
            h = (h ^ (h >> 13)) * 0x297A2D39u;
            return (int)((h ^ (h >> 16)) & 0x7FFFFFFF);
        }
    }

    private static void Shuffle(int[] a, Random rng)
    {
        for (var i = a.Length - 1; i > 0; i--)
        {
            var j = rng.Next(i + 1);
            (a[i], a[j]) = (a[j], a[i]);
        }
    }

    private static IEnumerable<int[]> Chunk(int[] order, int batchSize) => order.Chunk(batchSize);

    // sentence-transformers NoDuplicatesBatchSampler: walk the remaining rows in order, take a row when none of its
    // texts is in the batch yet, until the batch is full; rows passed over stay (in order) for the next batch.
    private static List<int[]> NoDuplicateBatches(TrainingDataset data, int[] order, int batchSize)
    {
        var remaining = new List<int>(order);
        var result = new List<int[]>();
        var texts = new HashSet<string>(StringComparer.Ordinal);
        while (remaining.Count > 0)
        {
            texts.Clear();
            var batch = new List<int>();
            var taken = new List<int>();
            for (var k = 0; k < remaining.Count && batch.Count < batchSize; k++)
            {
                var row = data.Rows[remaining[k]];
                if (row.Texts.Any(texts.Contains))
                {
                    continue;
                }
                foreach (var t in row.Texts)
                {
                    texts.Add(t);
                }
                batch.Add(remaining[k]);
                taken.Add(k);
            }
            for (var i = taken.Count - 1; i >= 0; i--)
            {
                remaining.RemoveAt(taken[i]);
            }
            result.Add(batch.ToArray());
        }
        return result;
    }
}
