using System.Text.Json;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Numerics.Kernels;

namespace EmbeddingGemma.Embeddings;

/// <summary>The kinds of stage of the embedding pipeline, in the order sentence-transformers runs them.</summary>
public enum PipelineStageKind
{
    /// <summary>Prepend the task prompt (config_sentence_transformers.json prompts or the model card's tasks).</summary>
    Prompt,
    /// <summary>Tokenize (&lt;bos&gt; … &lt;eos&gt;) and truncate to the token limit.</summary>
    Tokenize,
    /// <summary>The Gemma 3 bidirectional encoder (modules.json's Transformer).</summary>
    Encoder,
    /// <summary>Mean over all positions (Pooling, pooling_mode_mean_tokens; prompt and specials included).</summary>
    MeanPooling,
    /// <summary>A Dense module (no bias, identity activation).</summary>
    Dense,
    /// <summary>L2 normalisation (the Normalize module).</summary>
    Normalize,
    /// <summary>Matryoshka: keep the first d dimensions and re-normalise (per request).</summary>
    Matryoshka,
    /// <summary>EmbeddingGemma 2's per-token embedding_projection (512 -> 768, inside the Transformer module, before the mean).</summary>
    Projection,
}

/// <summary>One stage of the pipeline as loaded: its kind, a name (module folder or step) and, for Dense, the layer.</summary>
public sealed record PipelineStage(PipelineStageKind Kind, string Name, DenseLayer? Dense = null)
{
    /// <inheritdoc />
    public override string ToString() => Dense is null ? Name : $"{Name} ({Dense.InFeatures}->{Dense.OutFeatures}, {Dense.Weight.Type})";
}

/// <summary>
/// EmbeddingGemma's embedding pipeline as ordered stages, built from the model folder's <c>modules.json</c>
/// (Transformer, Pooling, Dense, Dense, Normalize; the standard list for a GGUF or a folder without one): prompt,
/// tokenize, encoder, mean pooling, Dense, Dense, normalize, Matryoshka. The vector stages run batched: every Dense
/// layer is one <see cref="WeightMatrix"/> product over all the batch's pooled vectors.
/// </summary>
public sealed class EmbeddingPipeline
{
    private EmbeddingPipeline(IReadOnlyList<PipelineStage> stages, int hidden)
    {
        Stages = stages;
        Dense = stages.Where(s => s.Dense is not null).Select(s => s.Dense!).ToList();
        Normalizes = stages.Any(s => s.Kind == PipelineStageKind.Normalize);
        OutputDimension = Dense.Count > 0 ? Dense[^1].OutFeatures : hidden;
    }

    /// <summary>The stages in order.</summary>
    public IReadOnlyList<PipelineStage> Stages { get; }

    /// <summary>The Dense layers in order (empty only for a model loaded with AllowMissingDense).</summary>
    public IReadOnlyList<DenseLayer> Dense { get; }

    /// <summary>True when the pipeline has a Normalize module (EmbeddingGemma's has).</summary>
    public bool Normalizes { get; }

    /// <summary>Size of the full embedding.</summary>
    public int OutputDimension { get; }

    /// <summary>
    /// Builds the pipeline for <paramref name="weights"/>: from <c>modules.json</c> in <paramref name="folder"/> when there is one,
    /// else EmbeddingGemma's standard modules. Dense weights come from the same files as the backbone.
    /// </summary>
    public static EmbeddingPipeline Build(ModelWeights weights, string? folder, bool allowMissingDense)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var files = weights.Files;
        var h = weights.Config.HiddenSize;
        // Without modules.json the standard modules apply, and their side files (1_Pooling, 2_Dense, 3_Dense
        // config.json) are still checked: an invalid out_features is an error, never ignored.
        var modules = folder is not null && File.Exists(Path.Combine(folder, "modules.json"))
            ? ReadModules(folder, h)
            : folder is not null
                ? [new Module("Transformer", ""), CheckedPooling(folder, "1_Pooling"), ReadDense(folder, "2_Dense"), ReadDense(folder, "3_Dense"), new Module("Normalize", "4_Normalize")]
                : [new Module("Transformer", ""), new Module("Pooling", "1_Pooling"), new Module("Dense", "2_Dense"), new Module("Dense", "3_Dense"), new Module("Normalize", "4_Normalize")];
        var stages = new List<PipelineStage>
        {
            new(PipelineStageKind.Prompt, "prompt"),
            new(PipelineStageKind.Tokenize, "tokenize"),
        };
        var dense = modules.Where(m => m.Kind == "Dense").ToList();
        var haveDense = files.Contains(TensorNameMap.Dense2Hf) && files.Contains(TensorNameMap.Dense3Hf);
        if (!haveDense && !allowMissingDense)
        {
            var what = files.Format == "gguf" ? "tensors 'dense_2.weight' and 'dense_3.weight' (2_Dense/3_Dense)" : "2_Dense/model.safetensors and 3_Dense/model.safetensors";
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{files.Location}: the sentence-transformers Dense heads are missing ({what}; found {files.Tensors.Count} backbone tensors). "
                + "Without them the output is the pooled backbone, which is NOT the EmbeddingGemma embedding (llama.cpp #16538/#18677: early GGUFs had 314 tensors). "
                + "Re-convert with the Dense modules (e.g. `embeddinggemma convert`), or set ModelLoadOptions.AllowMissingDense to get the pooled backbone output on purpose.") { FilePath = files.Location };
        }
        var inFeatures = h;
        foreach (var m in modules)
        {
            switch (m.Kind)
            {
                case "Transformer":
                    stages.Add(new PipelineStage(PipelineStageKind.Encoder, "encoder"));
                    break;
                case "Pooling":
                    stages.Add(new PipelineStage(PipelineStageKind.MeanPooling, "mean_pooling"));
                    break;
                case "Dense" when haveDense:
                {
                    var key = m.Path switch
                    {
                        "2_Dense" => TensorNameMap.Dense2Hf,
                        "3_Dense" => TensorNameMap.Dense3Hf,
                        _ => throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{folder}: modules.json names a Dense module at '{m.Path}'; EmbeddingGemma has exactly 2_Dense and 3_Dense."),
                    };
                    var info = files.Find(key).Info;
                    if (info.Shape.Length != 2 || info.Shape[1] != inFeatures)
                    {
                        throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                            $"{files.Find(key).File.Path}: tensor '{info.Name}' has shape {info.ShapeText}, expected [N, {inFeatures}] (Dense {inFeatures}->N).") { FilePath = files.Find(key).File.Path };
                    }
                    var outFeatures = info.Shape[0];
                    if (m.OutFeatures is { } declaredOut && declaredOut != outFeatures || m.InFeatures is { } declaredIn && declaredIn != inFeatures)
                    {
                        throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                            $"{Path.Combine(folder ?? "", m.Path, "config.json")}: in_features/out_features {m.InFeatures}/{m.OutFeatures} disagree with the weight {info.ShapeText} (expected {inFeatures}/{outFeatures}).");
                    }
                    var layer = new DenseLayer(m.Path, files.Matrix(key, outFeatures, inFeatures));
                    stages.Add(new PipelineStage(PipelineStageKind.Dense, m.Path, layer));
                    inFeatures = layer.OutFeatures;
                    break;
                }
                case "Dense":
                    break;   // AllowMissingDense: the pooled backbone goes through
                case "Normalize":
                    stages.Add(new PipelineStage(PipelineStageKind.Normalize, "normalize"));
                    break;
            }
        }
        if (inFeatures != h)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{files.Location}: the Dense modules end at {inFeatures} features; Matryoshka truncation needs them to return to the hidden size {h}.");
        }
        if (haveDense && stages.Count(s => s.Kind == PipelineStageKind.Dense) != 2)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{folder}: modules.json lists {dense.Count} Dense modules; EmbeddingGemma has 2 (2_Dense, 3_Dense).");
        }
        stages.Add(new PipelineStage(PipelineStageKind.Matryoshka, "matryoshka"));
        return new EmbeddingPipeline(stages, h);
    }

    /// <summary>
    /// EmbeddingGemma 2's pipeline (spec2 §3): prompt, tokenize, encoder, per-token projection hidden -> embedding_dim,
    /// mean pooling, normalize, Matryoshka. No Dense modules: a modules.json listing one is refused. The encoder
    /// returns the pooled embedding_dim vectors, so <see cref="Project"/> is the identity.
    /// </summary>
    public static EmbeddingPipeline BuildGemma2(Model.V2.EmbeddingGemma2Config config, string? folder)
    {
        ArgumentNullException.ThrowIfNull(config);
        var modules = folder is not null && File.Exists(System.IO.Path.Combine(folder, "modules.json")) ? ReadModules(folder, config.HiddenSize) : null;
        if (modules?.FirstOrDefault(m => m.Kind == "Dense") is { } dense)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{System.IO.Path.Combine(folder!, "modules.json")}: lists a Dense module ('{dense.Path}'); EmbeddingGemma 2 has none (Transformer, Pooling, Normalize; spec2 §3).");
        }
        var stages = new List<PipelineStage>
        {
            new(PipelineStageKind.Prompt, "prompt"),
            new(PipelineStageKind.Tokenize, "tokenize"),
            new(PipelineStageKind.Encoder, "encoder"),
            new(PipelineStageKind.Projection, $"embedding_projection ({config.HiddenSize}->{config.EmbeddingDim}, per token)"),
            new(PipelineStageKind.MeanPooling, "mean_pooling"),
        };
        if (modules is null || modules.Any(m => m.Kind == "Normalize"))
        {
            stages.Add(new PipelineStage(PipelineStageKind.Normalize, "normalize"));
        }
        stages.Add(new PipelineStage(PipelineStageKind.Matryoshka, "matryoshka"));
        return new EmbeddingPipeline(stages, config.EmbeddingDim);
    }

    private sealed record Module(string Kind, string Path, long? InFeatures = null, long? OutFeatures = null);

    // modules.json: [{idx, name, path, type}]; the sub-folder config.json of Pooling and Dense checked.
    private static List<Module> ReadModules(string folder, int hidden)
    {
        var path = System.IO.Path.Combine(folder, "modules.json");
        var list = new List<Module>();
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{path}: expected a JSON array of modules.") { FilePath = path };
            }
            var i = 0;
            foreach (var m in doc.RootElement.EnumerateArray())
            {
                if (m.ValueKind != JsonValueKind.Object)
                {
                    throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{path}: module {i} is not an object.") { FilePath = path };
                }
                var type = m.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{path}: module {i} has no string 'type'.") { FilePath = path };
                var sub = !m.TryGetProperty("path", out var p) ? ""
                    : p.ValueKind == JsonValueKind.String ? p.GetString()!
                    : throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{path}: module {i} has a 'path' that is not a string ({p.GetRawText()}).") { FilePath = path };
                if (sub.Contains("..", StringComparison.Ordinal) || System.IO.Path.IsPathRooted(sub))
                {
                    throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{path}: module {i} has path '{sub}'; module paths are sub-folders of the model folder.") { FilePath = path };
                }
                var kind = type[(type.LastIndexOf('.') + 1)..];
                switch (kind)
                {
                    case "Transformer":
                        list.Add(new Module(kind, sub));
                        break;
                    case "Pooling":
                        CheckPooling(folder, sub);
                        list.Add(new Module(kind, sub));
                        break;
                    case "Dense":
                        list.Add(ReadDense(folder, sub));
                        break;
                    case "Normalize":
                        list.Add(new Module(kind, sub));
                        break;
                    default:
                        throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{path}: module {i} has type '{type}'; EmbeddingGemma's pipeline is Transformer, Pooling, Dense, Dense, Normalize.") { FilePath = path };
                }
                i++;
            }
        }
        catch (JsonException e)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{path}: invalid JSON ({e.Message}).", e) { FilePath = path };
        }
        var kinds = list.Select(m => m.Kind).ToList();
        if (kinds.Count(k => k == "Transformer") != 1 || kinds.Count(k => k == "Pooling") != 1 || kinds.IndexOf("Transformer") > kinds.IndexOf("Pooling")
            || kinds.Where(k => k == "Dense").Any() && kinds.IndexOf("Dense") < kinds.IndexOf("Pooling"))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{path}: modules are [{string.Join(", ", kinds)}]; expected Transformer, Pooling, Dense, Dense, Normalize.") { FilePath = path };
        }
        _ = hidden;
        return list;
    }

    private static Module CheckedPooling(string folder, string sub)
    {
        CheckPooling(folder, sub);
        return new Module("Pooling", sub);
    }

    private static void CheckPooling(string folder, string sub)
    {
        var cfg = System.IO.Path.Combine(folder, sub, "config.json");
        if (!File.Exists(cfg))
        {
            return;
        }
        using var pc = ParseFile(cfg);
        if (pc.RootElement.ValueKind != JsonValueKind.Object || !pc.RootElement.TryGetProperty("pooling_mode_mean_tokens", out var mean) || mean.ValueKind != JsonValueKind.True)
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{cfg}: only mean pooling (pooling_mode_mean_tokens: true) is supported.") { FilePath = cfg };
        }
    }

    private static Module ReadDense(string folder, string sub)
    {
        var cfg = System.IO.Path.Combine(folder, sub, "config.json");
        if (!File.Exists(cfg))
        {
            return new Module("Dense", sub);
        }
        using var dc = ParseFile(cfg);
        var root = dc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{cfg}: expected a JSON object.") { FilePath = cfg };
        }
        var act = root.TryGetProperty("activation_function", out var a) ? a.ValueKind == JsonValueKind.String ? a.GetString() : "(not a string)" : null;
        if (act is not null && act != "torch.nn.modules.linear.Identity")
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{cfg}: Dense activation {act} is not supported (EmbeddingGemma uses Identity).") { FilePath = cfg };
        }
        if (root.TryGetProperty("bias", out var b) && b.ValueKind == JsonValueKind.True)
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{cfg}: Dense bias is not supported (EmbeddingGemma has none).") { FilePath = cfg };
        }
        long? Int(string name)
        {
            if (!root.TryGetProperty(name, out var v))
            {
                return null;
            }
            return v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) && n > 0 ? n
                : throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{cfg}: '{name}' must be a positive integer, got {v.GetRawText()}.") { FilePath = cfg };
        }
        return new Module("Dense", sub, Int("in_features"), Int("out_features"));
    }

    private static JsonDocument ParseFile(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{path}: invalid JSON ({e.Message}).", e) { FilePath = path };
        }
    }

    /// <summary>
    /// The Dense stages over a batch: <paramref name="pooled"/> [rows, hidden] to the returned [rows, <see cref="OutputDimension"/>]
    /// (the pooled vectors themselves when the model has no Dense heads).
    /// </summary>
    public float[] Project(float[] pooled, int rows, int threads = 0, KernelSet? kernels = null)
    {
        ArgumentNullException.ThrowIfNull(pooled);
        var x = pooled;
        foreach (var d in Dense)
        {
            var y = new float[rows * d.OutFeatures];
            d.Forward(x, rows, y, threads, kernels);
            x = y;
        }
        return x;
    }

    /// <summary>Normalize (when the pipeline has the module and <paramref name="options"/> ask), then Matryoshka truncate + re-normalise.</summary>
    public float[] Finish(ReadOnlySpan<float> vector, EncodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var z = vector.ToArray();
        var dims = options.Dimensions ?? z.Length;
        var normalize = options.Normalize && Normalizes;
        if (normalize)
        {
            VectorOps.L2Normalize(z);
        }
        return dims == z.Length ? z : VectorOps.Truncate(z, dims, normalize);
    }
}
