using EmbeddingGemma.Embeddings;
using System.Text.Json.Nodes;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Model;

/// <summary>A tensor of a checkpoint in Hugging Face naming and convention (PyTorch shape, zero-centred norm weights).</summary>
public sealed record CheckpointTensor(string Name, long[] Shape, float[] Values);

/// <summary>
/// A whole model in memory (config, HF-named float32 tensors incl. <c>2_Dense.linear.weight</c> /
/// <c>3_Dense.linear.weight</c>, tokenizer files) that can be written as a Hugging Face / sentence-transformers folder
/// or as a GGUF of arch <c>gemma-embedding</c>. <see cref="RandomModel"/> makes one; <c>convert</c> reads one.
/// </summary>
public sealed class ModelCheckpoint : IModelCheckpoint
{
    /// <inheritdoc />
    public string Architecture => EmbeddingGemmaModel.ArchitectureV1;

    public required GemmaConfig Config { get; init; }
    public required IReadOnlyList<CheckpointTensor> Tensors { get; init; }

    /// <summary>tokenizer.json text (null: none written).</summary>
    public string? TokenizerJson { get; init; }

    /// <summary>tokenizer_config.json text (null: the EmbeddingGemma default is written with the tokenizer).</summary>
    public string? TokenizerConfigJson { get; init; }

    /// <summary>The 14 sentence-transformers prompts, written to config_sentence_transformers.json.</summary>
    public IReadOnlyDictionary<string, string> Prompts { get; init; } = ModelPrompts.SentenceTransformersPrompts;

    /// <summary>A name recorded in general.name.</summary>
    public string Name { get; init; } = "embeddinggemma";

    /// <summary>Output features of 2_Dense (0 when the checkpoint has no Dense heads).</summary>
    public int DenseIntermediate => Tensors.FirstOrDefault(t => t.Name == TensorNameMap.Dense2Hf)?.Shape[0] is long n ? (int)n : 0;

    private CheckpointTensor Get(string name) => Tensors.FirstOrDefault(t => t.Name == name)
        ?? throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"Checkpoint tensor '{name}' is missing.");

    /// <summary>Writes a Hugging Face / sentence-transformers folder with weights stored as <paramref name="dtype"/> (F32, F16, BF16).</summary>
    public void WriteHuggingFaceFolder(string folder, GgmlType dtype = GgmlType.F32)
    {
        Directory.CreateDirectory(folder);
        var dtypeName = dtype switch { GgmlType.F32 => "float32", GgmlType.BF16 => "bfloat16", GgmlType.F16 => "float16", _ => SafetensorsFile.DTypeName(dtype) };
        File.WriteAllText(Path.Combine(folder, "config.json"), (Config with { DType = dtypeName }).ToJson());
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"),
            Tensors.Where(t => !t.Name.Contains("_Dense.", StringComparison.Ordinal)).Select(t => new TensorToWrite(t.Name, dtype, t.Shape, t.Values)));
        var h = Config.HiddenSize;
        var modules = new JsonArray(
            CheckpointFiles.Module(0, "", "sentence_transformers.models.Transformer"),
            CheckpointFiles.Module(1, "1_Pooling", "sentence_transformers.models.Pooling"));
        CheckpointFiles.WriteMeanPooling(folder, h, writeEmbeddingDimension: false);
        var inter = DenseIntermediate;
        if (inter > 0)
        {
            modules.Add((JsonNode)CheckpointFiles.Module(2, "2_Dense", "sentence_transformers.models.Dense"));
            modules.Add((JsonNode)CheckpointFiles.Module(3, "3_Dense", "sentence_transformers.models.Dense"));
            foreach (var (dir, name, fin, fout) in new[] { ("2_Dense", TensorNameMap.Dense2Hf, h, inter), ("3_Dense", TensorNameMap.Dense3Hf, inter, h) })
            {
                Directory.CreateDirectory(Path.Combine(folder, dir));
                CheckpointFiles.WriteJson(Path.Combine(folder, dir, "config.json"), new JsonObject
                {
                    ["in_features"] = fin,
                    ["out_features"] = fout,
                    ["bias"] = false,
                    ["activation_function"] = "torch.nn.modules.linear.Identity",
                });
                var t = Get(name);
                SafetensorsWriter.Write(Path.Combine(folder, dir, "model.safetensors"), [new TensorToWrite("linear.weight", dtype, t.Shape, t.Values)]);
            }
        }
        modules.Add((JsonNode)CheckpointFiles.Module(modules.Count, $"{modules.Count}_Normalize", "sentence_transformers.models.Normalize"));
        Directory.CreateDirectory(Path.Combine(folder, $"{modules.Count - 1}_Normalize"));
        CheckpointFiles.WriteJson(Path.Combine(folder, "modules.json"), modules);
        CheckpointFiles.WriteJson(Path.Combine(folder, "sentence_bert_config.json"), new JsonObject { ["max_seq_length"] = Config.MaxPositionEmbeddings, ["do_lower_case"] = false });
        CheckpointFiles.WriteSentenceTransformersConfig(folder, Prompts, "5.1.0", "4.57.0", "2.8.0");
        CheckpointFiles.WriteTokenizer(folder, TokenizerJson, TokenizerConfigJson);
    }

    /// <summary>
    /// Writes a GGUF (arch gemma-embedding, all metadata of spec §6.2, norms stored as 1+w and kept F32, Dense heads
    /// included). <paramref name="type"/> is the type of the matrices: F32, F16, BF16, Q8_0 or Q4_0;
    /// <paramref name="matrixType"/> (GGUF tensor name to type) overrides it per matrix (mixed precision).
    /// </summary>
    public void WriteGguf(string path, GgmlType type = GgmlType.F32, Func<string, GgmlType>? matrixType = null)
    {
        var c = Config;
        const string a = "gemma-embedding";
        var w = new GgufWriter();
        w.AddString("general.architecture", a)
            .AddString("general.name", Name)
            .AddUInt32("general.file_type", type switch
            {
                GgmlType.F32 => 0u, GgmlType.F16 => 1u, GgmlType.Q4_0 => 2u, GgmlType.Q8_0 => 7u, GgmlType.BF16 => 32u,
                _ => throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"GGUF writing supports F32, F16, BF16, Q8_0 and Q4_0, not {type}."),
            });
        if (type is GgmlType.Q8_0 or GgmlType.Q4_0)
        {
            w.AddUInt32("general.quantization_version", 2);
        }
        w.AddUInt32($"{a}.context_length", (uint)c.MaxPositionEmbeddings)
            .AddUInt32($"{a}.embedding_length", (uint)c.HiddenSize)
            .AddUInt32($"{a}.block_count", (uint)c.NumHiddenLayers)
            .AddUInt32($"{a}.feed_forward_length", (uint)c.IntermediateSize)
            .AddUInt32($"{a}.attention.head_count", (uint)c.NumAttentionHeads)
            .AddUInt32($"{a}.attention.head_count_kv", (uint)c.NumKeyValueHeads)
            .AddUInt32($"{a}.attention.key_length", (uint)c.HeadDim)
            .AddUInt32($"{a}.attention.value_length", (uint)c.HeadDim)
            .AddFloat32($"{a}.attention.layer_norm_rms_epsilon", (float)c.RmsNormEps)
            .AddFloat32($"{a}.rope.freq_base", (float)c.RopeTheta)
            .AddFloat32($"{a}.rope.freq_base_swa", (float)c.RopeLocalBaseFreq)
            .AddUInt32($"{a}.attention.sliding_window", (uint)c.SlidingWindow)
            .AddUInt32($"{a}.attention.sliding_window_pattern", (uint)c.SlidingWindowPattern)
            .AddUInt32($"{a}.pooling_type", 1);
        var inter = DenseIntermediate;
        if (inter > 0)
        {
            w.AddUInt32($"{a}.dense_2_feat_in", (uint)c.HiddenSize).AddUInt32($"{a}.dense_2_feat_out", (uint)inter)
                .AddUInt32($"{a}.dense_3_feat_in", (uint)inter).AddUInt32($"{a}.dense_3_feat_out", (uint)c.HiddenSize);
        }
        CheckpointFiles.AddVocabulary(w, TokenizerJson, c.VocabSize, TokenizerVocabulary.ModelLlama);
        foreach (var t in Tensors)
        {
            var gname = TensorNameMap.ToGguf(t.Name);
            if (TensorNameMap.IsNormWeight(t.Name))
            {
                var plus = new float[t.Values.Length];
                for (var i = 0; i < plus.Length; i++)
                {
                    plus[i] = 1f + t.Values[i];
                }
                w.AddTensor(gname, GgmlType.F32, t.Shape, plus);
            }
            else
            {
                var want = matrixType?.Invoke(gname) ?? type;
                var tt = t.Shape[^1] % GgmlTypeInfo.BlockSize(want) == 0 ? want : GgmlType.F32;
                w.AddTensor(gname, tt, t.Shape, t.Values);
            }
        }
        w.Write(path);
    }

    /// <summary>
    /// Reads a checkpoint from a Hugging Face folder or a .gguf file through <see cref="WeightFiles"/> (the one loader):
    /// every tensor dequantized to float32 in Hugging Face convention (GGUF norms have 1 subtracted). The backbone is
    /// loaded first, so a malformed model fails here with the loader's message.
    /// </summary>
    public static ModelCheckpoint Read(string folderOrGguf)
    {
        if (!File.Exists(folderOrGguf) && !Directory.Exists(folderOrGguf))
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"Model not found: {Path.GetFullPath(folderOrGguf)} (expected a folder or a .gguf file).") { FilePath = folderOrGguf };
        }
        using var weights = ModelWeights.Load(folderOrGguf);
        var files = weights.Files;
        var tensors = files.Tensors.Select(kv => new CheckpointTensor(kv.Key, kv.Value.Shape, files.ReadHuggingFaceFloats(kv.Key))).ToList();
        if (files.Gguf is { } g)
        {
            var beside = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(folderOrGguf))!, "tokenizer.json");
            var ggufVocabulary = File.Exists(beside) ? null : TokenizerVocabulary.FromGguf(g);
            return new ModelCheckpoint
            {
                Config = weights.Config,
                Tensors = tensors,
                // without a tokenizer.json beside the GGUF, rebuild one from the GGUF's own vocabulary
                TokenizerJson = File.Exists(beside) ? File.ReadAllText(beside) : ggufVocabulary?.ToTokenizerJson(),
                TokenizerConfigJson = File.Exists(beside) ? null : ggufVocabulary?.ToTokenizerConfigJson(),
                Name = g.TryGetString("general.name") ?? "embeddinggemma",
            };
        }
        var tok = Path.Combine(folderOrGguf, "tokenizer.json");
        var tokCfg = Path.Combine(folderOrGguf, "tokenizer_config.json");
        var prompts = ModelPrompts.ReadSentenceTransformersPrompts(folderOrGguf) ?? ModelPrompts.SentenceTransformersPrompts;
        return new ModelCheckpoint
        {
            Config = weights.Config,
            Tensors = tensors,
            TokenizerJson = File.Exists(tok) ? File.ReadAllText(tok) : null,
            TokenizerConfigJson = File.Exists(tokCfg) ? File.ReadAllText(tokCfg) : null,
            Prompts = prompts,
        };
    }
}
