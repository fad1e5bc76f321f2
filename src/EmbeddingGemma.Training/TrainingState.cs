using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Training.Data;

namespace EmbeddingGemma.Training;

/// <summary>
/// A training checkpoint, one folder <c>step-NNNNNNNN</c> under the checkpoint directory:
/// <c>parameters.safetensors</c> (every optimized tensor, F32 exactly: the trainable model tensors, or LoRA's A and B),
/// <c>optimizer.safetensors</c> (AdamW's <c>m.NAME</c> and <c>v.NAME</c>) and <c>trainer_state.json</c> (step, epoch,
/// batch within the epoch, the epoch's loss sum, AdamW's step count, and what must match on resume: seed, batch size,
/// total steps, a fingerprint of the data). Each file is written through <see cref="AtomicFile"/> into a temporary
/// folder that is renamed into place when complete, so a crash never leaves a half checkpoint; the two newest are kept.
/// Nothing else is needed to continue: the batch order is a function of (seed, epoch), and the frozen tensors come
/// from the base model.
/// </summary>
public sealed record TrainingState
{
    public int Version { get; init; } = 1;
    public int Step { get; init; }
    public int Epoch { get; init; }
    public int Batch { get; init; }
    public double EpochLossSum { get; init; }
    public long AdamSteps { get; init; }
    public int TotalSteps { get; init; }
    public int Seed { get; init; }
    public int BatchSize { get; init; }
    public string DataFingerprint { get; init; } = "";

    private const string StateFile = "trainer_state.json";
    private const string ParametersFile = "parameters.safetensors";
    private const string OptimizerFile = "optimizer.safetensors";
    private const int Keep = 2;

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>SHA-256 over every row's kind, texts and label: resuming on other data is refused.</summary>
    public static string FingerprintOf(IReadOnlyList<TrainingDataset> data)
    {
        ArgumentNullException.ThrowIfNull(data);
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var d in data)
        {
            h.AppendData(Encoding.UTF8.GetBytes($"{d.Kind}|{d.Rows.Count}\n"));
            foreach (var r in d.Rows)
            {
                foreach (var t in r.Texts)
                {
                    h.AppendData(BitConverter.GetBytes(t.Length));
                    h.AppendData(Encoding.UTF8.GetBytes(t));
                }
                h.AppendData(BitConverter.GetBytes(r.Label ?? double.NaN));
            }
        }
        return Convert.ToHexStringLower(h.GetHashAndReset());
    }

    /// <summary>The folder name of step <paramref name="step"/>.</summary>
    public static string FolderName(int step) => string.Create(CultureInfo.InvariantCulture, $"step-{step:D8}");

    internal static void Save(string directory, Trainer trainer, TrainingState state)
    {
        Directory.CreateDirectory(directory);
        var final = Path.Combine(directory, FolderName(state.Step));
        var temp = Path.Combine(directory, $".{FolderName(state.Step)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temp);
        try
        {
            var tensors = trainer.OptimizedTensors;
            WriteSafetensors(Path.Combine(temp, ParametersFile), tensors.Select(t => new TensorToWrite(t.Name, GgmlType.F32, [t.Values.LongLength], t.Values)));
            var moments = new List<TensorToWrite>();
            for (var i = 0; i < tensors.Count; i++)
            {
                moments.Add(new TensorToWrite("m." + tensors[i].Name, GgmlType.F32, [tensors[i].Values.LongLength], trainer.Optimizer.FirstMoment(i)));
                moments.Add(new TensorToWrite("v." + tensors[i].Name, GgmlType.F32, [tensors[i].Values.LongLength], trainer.Optimizer.SecondMoment(i)));
            }
            WriteSafetensors(Path.Combine(temp, OptimizerFile), moments);
            AtomicFile.Write(Path.Combine(temp, StateFile), fs => JsonSerializer.Serialize(fs, state, Json));
            if (Directory.Exists(final))
            {
                Directory.Delete(final, recursive: true);
            }
            Directory.Move(temp, final);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        foreach (var old in List(directory).SkipLast(Keep))
        {
            TryDelete(old);
        }
    }

    private static void WriteSafetensors(string path, IEnumerable<TensorToWrite> tensors)
    {
        var list = tensors.ToList();
        AtomicFile.Write(path, fs =>
        {
            // SafetensorsWriter writes to a path: write beside, then copy the bytes through the atomic stream
            var scratch = path + ".part";
            try
            {
                SafetensorsWriter.Write(scratch, list);
                using var src = File.OpenRead(scratch);
                src.CopyTo(fs);
            }
            finally
            {
                File.Delete(scratch);
            }
        });
    }

    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>The checkpoint folders under <paramref name="directory"/>, oldest first.</summary>
    public static IReadOnlyList<string> List(string directory) =>
        Directory.Exists(directory)
            ? Directory.GetDirectories(directory, "step-*").Where(d => File.Exists(Path.Combine(d, StateFile))).OrderBy(d => d, StringComparer.Ordinal).ToList()
            : [];

    /// <summary>The checkpoint <paramref name="path"/> names: itself, or the newest under it (or under its <c>checkpoints</c>).</summary>
    public static string Resolve(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (File.Exists(Path.Combine(path, StateFile)))
        {
            return path;
        }
        var found = List(path).LastOrDefault() ?? List(Path.Combine(path, "checkpoints")).LastOrDefault();
        return found ?? throw new EmbeddingGemmaException(ErrorKind.NotFound,
            $"--resume {path}: no checkpoint there (a folder with {StateFile}, or one holding step-* or checkpoints/step-* folders).") { FilePath = path };
    }

    internal static TrainingState Load(string path, Trainer trainer, TrainingState expected)
    {
        var dir = Resolve(path);
        var statePath = Path.Combine(dir, StateFile);
        TrainingState state;
        try
        {
            state = JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(statePath), Json)
                ?? throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{statePath}: empty.") { FilePath = statePath };
        }
        catch (JsonException e)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{statePath}: invalid JSON ({e.Message}).", e) { FilePath = statePath };
        }
        void Same<T>(string field, T saved, T now, string hint)
        {
            if (!EqualityComparer<T>.Default.Equals(saved, now))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{statePath}: field '{field}' is {saved}, this run has {now}; {hint}.") { FilePath = statePath };
            }
        }
        Same("version", state.Version, 1, "this checkpoint was written by another version");
        Same("seed", state.Seed, expected.Seed, "resume with the same --seed");
        Same("batch_size", state.BatchSize, expected.BatchSize, "resume with the same --batch-size");
        Same("total_steps", state.TotalSteps, expected.TotalSteps, "resume with the same --epochs/--max-steps");
        Same("data_fingerprint", state.DataFingerprint, expected.DataFingerprint, "resume on the same --train data");
        var tensors = trainer.OptimizedTensors;
        using (var p = SafetensorsFile.Open(Path.Combine(dir, ParametersFile)))
        using (var o = SafetensorsFile.Open(Path.Combine(dir, OptimizerFile)))
        {
            for (var i = 0; i < tensors.Count; i++)
            {
                Read(p, tensors[i].Name, tensors[i].Values);
                Read(o, "m." + tensors[i].Name, trainer.Optimizer.FirstMoment(i));
                Read(o, "v." + tensors[i].Name, trainer.Optimizer.SecondMoment(i));
            }
            if (p.Tensors.Count != tensors.Count)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                    $"{p.Path}: holds {p.Tensors.Count} tensors, this run trains {tensors.Count}; resume with the same trainable set (--train-embeddings, --lora-*, --freeze-layers).") { FilePath = p.Path };
            }
        }
        trainer.Optimizer.RestoreStepCount(state.AdamSteps);
        return state;
    }

    private static void Read(SafetensorsFile file, string name, float[] destination)
    {
        if (!file.Tensors.TryGetValue(name, out var info))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                $"{file.Path}: tensor '{name}' is missing; resume with the same trainable set (--train-embeddings, --lora-*, --freeze-layers).") { FilePath = file.Path };
        }
        var values = file.ReadFloats(info);
        if (values.Length != destination.Length)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{file.Path}: tensor '{name}' has {values.Length} values, expected {destination.Length}.") { FilePath = file.Path };
        }
        values.CopyTo(destination, 0);
    }
}
