namespace EmbeddingGemma.Hub;

/// <summary>
/// Progress of a download, reported through <see cref="IProgress{T}"/>: the current file and the whole set.
/// Totals are -1 when the server did not announce a size.
/// </summary>
/// <param name="RepoId">The repository, e.g. <c>google/embeddinggemma-300m</c>.</param>
/// <param name="FileName">The file being transferred (path inside the repository).</param>
/// <param name="FileBytes">Bytes of this file present locally (resumed bytes included).</param>
/// <param name="FileTotalBytes">Size of this file, or -1.</param>
/// <param name="FilesCompleted">Files finished (downloaded or already cached).</param>
/// <param name="FileCount">Files in this download.</param>
/// <param name="FileCompleted">True on the report that ends this file.</param>
/// <param name="FromCache">True when the file was already in the cache and nothing was transferred.</param>
public readonly record struct DownloadProgress(
    string RepoId,
    string FileName,
    long FileBytes,
    long FileTotalBytes,
    int FilesCompleted,
    int FileCount,
    bool FileCompleted,
    bool FromCache);
