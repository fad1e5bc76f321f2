using EmbeddingGemma.Embeddings;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Model.V2;

/// <summary>
/// A whole EmbeddingGemma 2 text model in memory (config, float32 tensors named as the text tower without the
/// <c>language_model.</c> prefix, plain-w norms; optional vision/audio stub tensors under their own full names),
/// written as a Hugging Face / sentence-transformers folder (spec2 §3, §5.1) or as a GGUF of arch
/// <c>gemma-embedding2</c> (spec2 §5.2, §11.4). <see cref="RandomModel2"/> makes one.
/// </summary>
public sealed class ModelCheckpoint2 : IModelCheckpoint
{
    /// <inheritdoc />
    public string Architecture => EmbeddingGemmaModel.ArchitectureV2;

    public required EmbeddingGemma2Config Config { get; init; }
    public required IReadOnlyList<CheckpointTensor> Tensors { get; init; }

    /// <summary>tokenizer.json text (null: none written).</summary>
    public string? TokenizerJson { get; init; }

    /// <summary>tokenizer_config.json text (null: the synthetic default, add_bos/add_eos true).</summary>
    public string? TokenizerConfigJson { get; init; }

    /// <summary>The sentence-transformers prompts (EmbeddingGemma 2's table, spec2 §3).</summary>
    public IReadOnlyDictionary<string, string> Prompts { get; init; } = Gemma2Prompts.SentenceTransformersPrompts;

    /// <summary>A name recorded in general.name.</summary>
    public string Name { get; init; } = "embeddinggemma2";

    private static bool IsTextTensor(string name) => !TensorNameMap.Gemma2SkippedPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal));

    /// <summary>
    /// Writes config.json (composite, model_type embedding_gemma2), model.safetensors (text tower under
    /// <c>language_model.</c>, no <c>model.</c> prefix; stub towers as named), modules.json (Transformer, Pooling,
    /// Normalize: no Dense), 1_Pooling, 2_Normalize, config_sentence_transformers.json and the tokenizer files.
    /// </summary>
    public void WriteHuggingFaceFolder(string folder, GgmlType dtype = GgmlType.F32)
    {
        Directory.CreateDirectory(folder);
        var dtypeName = dtype switch { GgmlType.F32 => "float32", GgmlType.BF16 => "bfloat16", GgmlType.F16 => "float16", _ => SafetensorsFile.DTypeName(dtype) };
        File.WriteAllText(Path.Combine(folder, "config.json"), (Config with { DType = dtypeName }).ToJson());
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"),
            Tensors.Select(t => new TensorToWrite(IsTextTensor(t.Name) ? TensorNameMap.Gemma2TextPrefix + t.Name : t.Name,
                // layer_scalar is a float32 buffer; norms keep the folder dtype like the rest (HF-CONV --text_dtype).
                t.Name.EndsWith("layer_scalar", StringComparison.Ordinal) ? GgmlType.F32 : dtype, t.Shape, t.Values)));
        var modules = new JsonArray(
            CheckpointFiles.Module(0, "", "sentence_transformers.base.modules.transformer.Transformer"),
            CheckpointFiles.Module(1, "1_Pooling", "sentence_transformers.sentence_transformer.modules.pooling.Pooling"),
            CheckpointFiles.Module(2, "2_Normalize", "sentence_transformers.base.modules.normalize.Normalize"));
        CheckpointFiles.WriteJson(Path.Combine(folder, "modules.json"), modules);
        CheckpointFiles.WriteMeanPooling(folder, Config.EmbeddingDim, writeEmbeddingDimension: true);
        Directory.CreateDirectory(Path.Combine(folder, "2_Normalize"));
        CheckpointFiles.WriteSentenceTransformersConfig(folder, Prompts, "6.1.0", "5.19.0", "2.9.0");
        CheckpointFiles.WriteTokenizer(folder, TokenizerJson, TokenizerConfigJson);
    }

    /// <summary>
    /// Writes a GGUF of arch gemma-embedding2 with llama.cpp's keys (spec2 §5.2): per-layer head_count_kv (INT32
    /// array), key_length = full-layer head width and key_length_swa = sliding width, sliding_window = 2 x radius,
    /// sliding_window_pattern as a bool array (true = sliding), norms raw (no 1 + w) and F32, layer_scalar as
    /// <c>blk.N.layer_output_scale.weight</c> [1] F32. Vision/audio stubs are not written (text GGUF).
    /// <paramref name="type"/>: the matrices' type (F32, F16, BF16, Q8_0, Q4_0); per_layer_model_proj stays BF16 in
    /// quantized files as in the released Q8_0 (NUC).
    /// </summary>
    public void WriteGguf(string path, GgmlType type = GgmlType.F32, Func<string, GgmlType>? matrixType = null)
    {
        var c = Config.Normalized();
        const string a = WeightFiles.ArchGemmaEmbedding2;
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
        var layers = Enumerable.Range(0, c.NumHiddenLayers).ToArray();
        var sliding = layers.Where(c.IsSlidingLayer).ToArray();
        var full = layers.Where(l => !c.IsSlidingLayer(l)).ToArray();
        var hdSwa = sliding.Select(c.LayerHeadDim).Distinct().ToArray();
        var hdFull = full.Select(c.LayerHeadDim).Distinct().ToArray();
        if (hdSwa.Length > 1 || hdFull.Length > 1)
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, "GGUF (gemma-embedding2) holds one head width per layer type; this config varies it within a type.");
        }
        var hdS = hdSwa.FirstOrDefault(c.HeadDim);
        var hdF = hdFull.FirstOrDefault(c.GlobalHeadDim ?? 512);
        w.AddUInt32($"{a}.context_length", (uint)c.MaxPositionEmbeddings)
            .AddUInt32($"{a}.embedding_length", (uint)c.HiddenSize)
            .AddUInt32($"{a}.embedding_length_out", (uint)c.EmbeddingDim)
            .AddUInt32($"{a}.embedding_length_per_layer_input", (uint)c.HiddenSizePerLayerInput)
            .AddUInt32($"{a}.block_count", (uint)c.NumHiddenLayers)
            .AddUInt32($"{a}.feed_forward_length", (uint)c.IntermediateSize)
            .AddUInt32($"{a}.attention.head_count", (uint)c.NumAttentionHeads)
            .AddInts($"{a}.attention.head_count_kv", layers.Select(c.LayerKeyValueHeads).ToArray())
            .AddUInt32($"{a}.attention.key_length", (uint)hdF)
            .AddUInt32($"{a}.attention.value_length", (uint)hdF)
            .AddUInt32($"{a}.attention.key_length_swa", (uint)hdS)
            .AddUInt32($"{a}.attention.value_length_swa", (uint)hdS)
            .AddUInt32($"{a}.attention.sliding_window", (uint)(2 * c.SlidingWindow))
            .AddValue($"{a}.attention.sliding_window_pattern", new GgufValue(GgufValueType.Array, layers.Select(c.IsSlidingLayer).ToArray(), GgufValueType.Bool))
            .AddUInt32($"{a}.attention.shared_kv_layers", 0)
            .AddBool($"{a}.attention.causal", false)
            .AddFloat32($"{a}.attention.layer_norm_rms_epsilon", (float)c.RmsNormEps)
            .AddUInt32($"{a}.rope.dimension_count", (uint)hdF)
            .AddUInt32($"{a}.rope.dimension_count_swa", (uint)hdS)
            .AddFloat32($"{a}.rope.freq_base", (float)c.LayerRopeTheta(full.FirstOrDefault(c.NumHiddenLayers - 1)))
            .AddFloat32($"{a}.rope.freq_base_swa", (float)(sliding.Length > 0 ? c.LayerRopeTheta(sliding[0]) : 10_000.0))
            .AddUInt32($"{a}.pooling_type", 1);
        // tokenizer model gemma4 with its explicit merges (llama.cpp Gemma4Model.set_vocab)
        CheckpointFiles.AddVocabulary(w, TokenizerJson, c.VocabSize, TokenizerVocabulary.ModelGemma4);
        foreach (var t in Tensors.Where(t => IsTextTensor(t.Name)))
        {
            var gname = TensorNameMap.ToGguf2(t.Name);
            if (t.Shape.Length == 1)
            {
                w.AddTensor(gname, GgmlType.F32, t.Shape, t.Values);   // norms (raw w) and layer_scalar: F32, no shift (LC-CONV norm_shift 0)
                continue;
            }
            var want = matrixType?.Invoke(gname) ?? (type is GgmlType.Q8_0 or GgmlType.Q4_0 && gname == "per_layer_model_proj.weight" ? GgmlType.BF16 : type);
            var tt = t.Shape[^1] % GgmlTypeInfo.BlockSize(want) == 0 ? want : GgmlType.F32;
            w.AddTensor(gname, tt, t.Shape, t.Values);
        }
        w.Write(path);
    }

    /// <summary>Reads an EmbeddingGemma 2 folder or GGUF through the one loader (every tensor as float32, norms raw).</summary>
    public static ModelCheckpoint2 Read(string folderOrGguf)
    {
        using var weights = EmbeddingGemma2Weights.Load(folderOrGguf);
        var files = weights.Files;
        var tensors = files.Tensors.Select(kv => new CheckpointTensor(kv.Key, kv.Value.Shape, files.ReadHuggingFaceFloats(kv.Key))).ToList();
        string? tok = null, tokCfg = null;
        var dir = Directory.Exists(folderOrGguf) ? folderOrGguf : Path.GetDirectoryName(Path.GetFullPath(folderOrGguf))!;
        if (File.Exists(Path.Combine(dir, "tokenizer.json")))
        {
            tok = File.ReadAllText(Path.Combine(dir, "tokenizer.json"));
            tokCfg = File.Exists(Path.Combine(dir, "tokenizer_config.json")) ? File.ReadAllText(Path.Combine(dir, "tokenizer_config.json")) : null;
        }
        else if (files.Gguf is { } g && TokenizerVocabulary.FromGguf(g) is { } v)
        {
            tok = v.ToTokenizerJson();
            tokCfg = v.ToTokenizerConfigJson();
        }
        return new ModelCheckpoint2
        {
            Config = weights.Config,
            Tensors = tensors,
            TokenizerJson = tok,
            TokenizerConfigJson = tokCfg,
            Prompts = Directory.Exists(folderOrGguf) ? ModelPrompts.ReadSentenceTransformersPrompts(folderOrGguf) ?? Gemma2Prompts.SentenceTransformersPrompts : Gemma2Prompts.SentenceTransformersPrompts,
            Name = files.Gguf?.TryGetString("general.name") ?? "embeddinggemma2",
        };
    }

    /// <summary>Parameters of the text tensors.</summary>
    public long ParameterCount => Tensors.Where(t => IsTextTensor(t.Name)).Sum(t => t.Shape.Aggregate(1L, (x, y) => x * y));
}
