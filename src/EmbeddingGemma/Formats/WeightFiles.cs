using System.Text.Json;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Formats;

/// <summary>
/// The one weight loader: the tensor files of a model (a Hugging Face / sentence-transformers folder with its
/// safetensors shards and 2_Dense/3_Dense, or one GGUF file), memory-mapped and indexed by Hugging Face name through
/// <see cref="TensorNameMap"/>. Matrices come out as <see cref="WeightMatrix"/> in their stored type over the map (no
/// copy, no dequantization); norm gains come out as the effective gain <c>1 + w</c> whichever convention the file
/// uses. Owns the files: dispose it after everything made from it.
/// </summary>
public sealed class WeightFiles : IDisposable
{
    private readonly List<ITensorFile> _files;
    private readonly Dictionary<string, (ITensorFile File, TensorInfo Info)> _byName;

    /// <summary>GGUF <c>general.architecture</c> of EmbeddingGemma (v1).</summary>
    public const string ArchGemmaEmbedding = "gemma-embedding";

    /// <summary>GGUF <c>general.architecture</c> of EmbeddingGemma 2.</summary>
    public const string ArchGemmaEmbedding2 = "gemma-embedding2";

    private WeightFiles(string format, string location, List<ITensorFile> files, Dictionary<string, (ITensorFile, TensorInfo)> byName, GgufFile? gguf,
        string architecture = ArchGemmaEmbedding, IReadOnlyList<string>? skipped = null)
    {
        Architecture = architecture;
        Skipped = skipped ?? [];
        Format = format;
        Location = location;
        _files = files;
        _byName = byName;
        Gguf = gguf;
    }

    /// <summary><c>safetensors</c> or <c>gguf</c>.</summary>
    public string Format { get; }

    /// <summary>
    /// The architecture in GGUF spelling: <see cref="ArchGemmaEmbedding"/> or <see cref="ArchGemmaEmbedding2"/> (from
    /// general.architecture, or from config.json's model_type beside the safetensors).
    /// </summary>
    public string Architecture { get; }

    /// <summary>True for EmbeddingGemma 2 files (norms stored raw in both formats).</summary>
    public bool IsGemma2 => Architecture == ArchGemmaEmbedding2;

    /// <summary>Tensors present in the files but not loaded: EmbeddingGemma 2's vision/audio towers (spec2 §5.1).</summary>
    public IReadOnlyList<string> Skipped { get; }

    /// <summary>The folder or .gguf file the weights come from.</summary>
    public string Location { get; }

    /// <summary>The GGUF file (metadata, vocabulary) when the weights are one; otherwise null.</summary>
    public GgufFile? Gguf { get; }

    /// <summary>The files opened.</summary>
    public IReadOnlyList<string> Paths => _files.Select(f => f.Path).ToList();

    /// <summary>Every tensor by Hugging Face name (2_Dense/3_Dense as <see cref="TensorNameMap.Dense2Hf"/>/<see cref="TensorNameMap.Dense3Hf"/>).</summary>
    public IReadOnlyDictionary<string, TensorInfo> Tensors => _byName.ToDictionary(kv => kv.Key, kv => kv.Value.Info, StringComparer.Ordinal);

    /// <summary>True when the files hold tensor <paramref name="hfName"/>.</summary>
    public bool Contains(string hfName) => _byName.ContainsKey(hfName);

    /// <summary>Opens a folder (Hugging Face / sentence-transformers) or a .gguf file.</summary>
    public static WeightFiles Open(string folderOrGguf)
    {
        ArgumentException.ThrowIfNullOrEmpty(folderOrGguf);
        return Directory.Exists(folderOrGguf) ? OpenHuggingFaceFolder(folderOrGguf) : OpenGguf(folderOrGguf);
    }

    /// <summary>Opens the safetensors of a Hugging Face folder (<c>model.safetensors</c> or its sharded index) and 2_Dense/3_Dense.</summary>
    public static WeightFiles OpenHuggingFaceFolder(string folder)
    {
        folder = Path.GetFullPath(folder);
        if (!Directory.Exists(folder))
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"Model folder not found: {folder}") { FilePath = folder };
        }
        var files = new List<ITensorFile>();
        var architecture = FolderArchitecture(folder);
        var skipped = new List<string>();
        try
        {
            var names = new Dictionary<string, (ITensorFile, TensorInfo)>(StringComparer.Ordinal);
            foreach (var shard in ModelShards(folder))
            {
                var f = SafetensorsFile.Open(shard);
                files.Add(f);
                foreach (var (name, info) in f.Tensors)
                {
                    if (architecture == ArchGemmaEmbedding2 && TensorNameMap.Gemma2SkippedPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)))
                    {
                        skipped.Add(name);   // vision/audio towers: not part of the text path (spec2 §5.1)
                        continue;
                    }
                    if (architecture != ArchGemmaEmbedding2 && name.StartsWith(TensorNameMap.Gemma2TextPrefix, StringComparison.Ordinal))
                    {
                        throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                            $"{f.Path}: tensor '{name}' is an EmbeddingGemma 2 text-tower tensor, but {Path.Combine(folder, "config.json")} does not say model_type embedding_gemma2.") { FilePath = f.Path };
                    }
                    // Accept the "model." prefix of checkpoints saved from a wrapping model, and EmbeddingGemma 2's "language_model.".
                    var key = name.StartsWith("model.", StringComparison.Ordinal) ? name["model.".Length..]
                        : name.StartsWith(TensorNameMap.Gemma2TextPrefix, StringComparison.Ordinal) ? name[TensorNameMap.Gemma2TextPrefix.Length..] : name;
                    if (!names.TryAdd(key, (f, info)))
                    {
                        throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{f.Path}: tensor '{name}' appears twice in the model's safetensors.") { FilePath = f.Path };
                    }
                }
            }
            foreach (var (dir, key) in new[] { ("2_Dense", TensorNameMap.Dense2Hf), ("3_Dense", TensorNameMap.Dense3Hf) })
            {
                var path = Path.Combine(folder, dir, "model.safetensors");
                if (File.Exists(path))
                {
                    var f = SafetensorsFile.Open(path);
                    files.Add(f);
                    if (!f.Tensors.TryGetValue("linear.weight", out var info))
                    {
                        throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{path}: tensor 'linear.weight' is missing.") { FilePath = path };
                    }
                    if (f.Tensors.ContainsKey("linear.bias"))
                    {
                        throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{path}: Dense bias is not part of EmbeddingGemma (expected exactly linear.weight).") { FilePath = path };
                    }
                    names[key] = (f, info);
                }
                else if (File.Exists(Path.Combine(folder, dir, "pytorch_model.bin")))
                {
                    throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{Path.Combine(folder, dir)}: only model.safetensors is supported (found pytorch_model.bin).");
                }
            }
            var result = new WeightFiles("safetensors", folder, files, names, null, architecture, skipped);
            result.CheckArchitecture();
            return result;
        }
        catch
        {
            foreach (var f in files)
            {
                f.Dispose();
            }
            throw;
        }
    }

    /// <summary>Opens a GGUF file; tensor names are mapped to Hugging Face names (norms stay stored as 1 + w).</summary>
    public static WeightFiles OpenGguf(string path)
    {
        var gguf = GgufFile.Open(path);
        try
        {
            var architecture = gguf.TryGetString("general.architecture") == ArchGemmaEmbedding2 ? ArchGemmaEmbedding2 : ArchGemmaEmbedding;
            var names = new Dictionary<string, (ITensorFile, TensorInfo)>(StringComparer.Ordinal);
            foreach (var (name, info) in gguf.Tensors)
            {
                if (architecture == ArchGemmaEmbedding2)
                {
                    names[TensorNameMap.ToHf2(name)] = (gguf, info);   // output.weight is embedding_projection here
                    continue;
                }
                if (name == "output.weight" || name.StartsWith("rope_", StringComparison.Ordinal))
                {
                    continue;
                }
                if (name is "per_layer_model_proj.weight" or "per_layer_proj_norm.weight")
                {
                    throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                        $"{gguf.Path}: tensor '{name}' belongs to EmbeddingGemma 2 (gemma-embedding2), but general.architecture is '{gguf.TryGetString("general.architecture")}'.") { FilePath = gguf.Path };
                }
                names[TensorNameMap.ToHf(name)] = (gguf, info);
            }
            var result = new WeightFiles("gguf", gguf.Path, [gguf], names, gguf, architecture);
            result.CheckArchitecture();
            return result;
        }
        catch
        {
            gguf.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Tensors in memory (<see cref="MemoryTensorFile"/>, Hugging Face names and convention: norm weights as w, the
    /// Dense heads as <see cref="TensorNameMap.Dense2Hf"/>/<see cref="TensorNameMap.Dense3Hf"/>) as the weights of an
    /// EmbeddingGemma (v1) model, read exactly as a safetensors folder is. Owns <paramref name="file"/>.
    /// </summary>
    public static WeightFiles FromMemory(MemoryTensorFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var names = file.Tensors.ToDictionary(kv => kv.Key, kv => ((ITensorFile)file, kv.Value), StringComparer.Ordinal);
        var result = new WeightFiles("safetensors", file.Path, [file], names, null);
        result.CheckArchitecture();
        return result;
    }

    /// <summary>The architecture a model folder declares: gemma-embedding2 when config.json's model_type is embedding_gemma2(_text).</summary>
    public static string FolderArchitecture(string folder)
    {
        var cfg = Path.Combine(folder, "config.json");
        if (!File.Exists(cfg))
        {
            return ArchGemmaEmbedding;
        }
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(cfg));
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("model_type", out var t)
                && t.ValueKind == JsonValueKind.String && t.GetString() is "embedding_gemma2" or "embedding_gemma2_text"
                ? ArchGemmaEmbedding2 : ArchGemmaEmbedding;
        }
        catch (JsonException)
        {
            return ArchGemmaEmbedding;   // the config loader reports the malformed file
        }
    }

    // A v2 file must not carry v1's Dense heads; a v1 file must not carry v2's PLE/projection.
    private void CheckArchitecture()
    {
        var where = Format == "gguf" ? $"general.architecture '{Architecture}'" : $"config.json model_type ({(IsGemma2 ? "EmbeddingGemma 2" : "EmbeddingGemma v1")})";
        if (IsGemma2 && (Contains(TensorNameMap.Dense2Hf) || Contains(TensorNameMap.Dense3Hf)))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{Location}: Dense heads (2_Dense/3_Dense) found with {where}; EmbeddingGemma 2 has no Dense modules (its 512->768 projection is embedding_projection).") { FilePath = Location };
        }
        if (!IsGemma2 && (Contains("ple.per_layer_model_projection.weight") || Contains("embedding_projection.weight")))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{Location}: EmbeddingGemma 2 tensors (per-layer embeddings / embedding_projection) found with {where}; the files disagree about the model.") { FilePath = Location };
        }
    }

    private static IEnumerable<string> ModelShards(string folder)
    {
        var single = Path.Combine(folder, "model.safetensors");
        if (File.Exists(single))
        {
            return [single];
        }
        var index = Path.Combine(folder, "model.safetensors.index.json");
        if (File.Exists(index))
        {
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllText(index));
                return doc.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => p.Value.GetString()!).Distinct()
                    .Select(s => Path.Combine(folder, s)).ToList();
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{index}: not a valid safetensors index (weight_map of file names): {e.Message}", e) { FilePath = index };
            }
        }
        throw new EmbeddingGemmaException(ErrorKind.NotFound, $"{folder}: model.safetensors not found (nor model.safetensors.index.json).") { FilePath = single };
    }

    private string Shown(string hfName) => Format == "gguf" && TryGguf(hfName) is { } g ? $"'{g}' (HF '{hfName}')" : $"'{hfName}'";

    private string? TryGguf(string hfName)
    {
        try
        {
            return IsGemma2 ? TensorNameMap.ToGguf2(hfName) : TensorNameMap.ToGguf(hfName);
        }
        catch (EmbeddingGemmaException)
        {
            return null;
        }
    }

    /// <summary>The file and description of tensor <paramref name="hfName"/>; throws naming it when missing.</summary>
    public (ITensorFile File, TensorInfo Info) Find(string hfName)
    {
        if (!_byName.TryGetValue(hfName, out var t))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{Location}: tensor {Shown(hfName)} is missing.") { FilePath = Location };
        }
        return t;
    }

    /// <summary>A matrix [rows, cols] in its stored type over the mapped file; throws naming file and tensor for a wrong shape or type.</summary>
    public WeightMatrix Matrix(string hfName, long rows, long cols)
    {
        var (f, info) = Find(hfName);
        if (info.Shape.Length != 2 || info.Shape[0] != rows || info.Shape[1] != cols)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{f.Path}: tensor '{info.Name}' has shape {info.ShapeText}, expected [{rows}, {cols}] for this config.") { FilePath = f.Path };
        }
        try
        {
            return WeightMatrix.Create(Format == "gguf" ? info.Name : hfName, info.Type, checked((int)rows), checked((int)cols), WeightMemory.FromNativeSpan(f.GetBytes(info)));
        }
        catch (EmbeddingGemmaException e)
        {
            throw new EmbeddingGemmaException(e.Kind, $"{f.Path}: {e.Message}", e) { FilePath = f.Path };
        }
    }

    /// <summary>A norm's effective gain <c>1 + w</c> [n] as float32 (HF stores w, GGUF stores 1 + w).</summary>
    public float[] Gain(string hfName, long n)
    {
        var (f, info) = Find(hfName);
        if (info.Shape.Length != 1 || info.Shape[0] != n)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{f.Path}: tensor '{info.Name}' has shape {info.ShapeText}, expected [{n}] for this config.") { FilePath = f.Path };
        }
        var v = f.ReadFloats(info);
        if (Format != "gguf")
        {
            for (var i = 0; i < v.Length; i++)
            {
                v[i] = 1f + v[i];
            }
        }
        foreach (var x in v)
        {
            if (!float.IsFinite(x))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{f.Path}: tensor '{info.Name}' holds a non-finite value ({x}).") { FilePath = f.Path };
            }
        }
        return v;
    }

    /// <summary>
    /// An EmbeddingGemma 2 norm gain or scalar as stored: plain <c>w</c> (Gemma 4 convention, spec2 §2.1: HF-MOD
    /// multiplies by w, llama.cpp's converter does not shift it). Refused for v1 files, whose gains are 1 + w (<see cref="Gain"/>).
    /// </summary>
    public float[] PlainGain(string hfName, long n)
    {
        if (!IsGemma2)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{Location}: PlainGain('{hfName}') is for EmbeddingGemma 2 files; v1 norms are 1 + w (Gain).") { FilePath = Location };
        }
        var (f, info) = Find(hfName);
        if (info.ElementCount != n || info.Shape.Length > 1)   // [n]; a scalar buffer (layer_scalar) may also be stored 0-d
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{f.Path}: tensor '{info.Name}' has shape {info.ShapeText}, expected [{n}] for this config.") { FilePath = f.Path };
        }
        var v = f.ReadFloats(info);
        foreach (var x in v)
        {
            if (!float.IsFinite(x))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{f.Path}: tensor '{info.Name}' holds a non-finite value ({x}).") { FilePath = f.Path };
            }
        }
        return v;
    }

    /// <summary>A tensor as float32 in Hugging Face convention (norms as w: GGUF's stored 1 + w has 1 subtracted).</summary>
    public float[] ReadHuggingFaceFloats(string hfName)
    {
        var (f, info) = Find(hfName);
        var v = f.ReadFloats(info);
        if (Format == "gguf" && !IsGemma2 && TensorNameMap.IsNormWeight(hfName))
        {
            for (var i = 0; i < v.Length; i++)
            {
                v[i] -= 1f;
            }
        }
        return v;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var f in _files)
        {
            f.Dispose();
        }
    }
}
