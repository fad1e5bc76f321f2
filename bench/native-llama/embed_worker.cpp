// Native llama.cpp side of the side-by-side benchmark (bench/EmbeddingGemma.Benchmarks/SideBySide).
//
//   embed_worker <model.gguf> <threads> <workloads> <ids.txt> [--pack N] [--flash-attn auto|on|off]
//
// Loads the GGUF on the CPU (no GPU layers) with embeddings on and mean pooling, N threads for both single-token and
// batch work, then runs the same four workloads as Workloads.Measure on the C# side, with the token ids the
// orchestrator wrote to <ids.txt> (one sequence per line: "<section> id id id ...", sections docs, query, long, batch,
// plus a "query_runs N" line). Prints ONE JSON line with the same fields as the LLamaSharp worker: engine, load_s,
// docs_tokens_per_s, doc0_head, docs_vectors (first 4 documents, output after dense_3, not normalised),
// query_median_ms, long_s, batch_s, peak_rss_mb (VmHWM of this process).
//
// Batching (being fair to llama.cpp): gemma-embedding is non-causal and has no KV cache in llama.cpp, so llama_decode
// runs llama_context::encode, which accepts several sequences in one ubatch (as examples/embedding does). Each call
// here packs whole sequences, in order, into one decode until the next would exceed --pack tokens (a sequence longer
// than that goes alone). --pack 0 means one sequence per decode, like the LLamaSharp worker. The attention mask of a
// packed ubatch covers all its tokens, so packing trades attention work (quadratic in the ubatch) for larger, more
// efficient matrix products (the LLamaSharp worker, one sequence per decode, runs the batch of 256 short inputs as
// 256 tiny matrix products). The default, 512 tokens, packs two 256-token documents or ~25 short inputs per decode and
// keeps the masked attention small. A/B on the Q4_0 (llama-quantize) file, 2 threads, on a heavily loaded VM (load
// average 4-15, so only the large effects count): the batch of 256 short inputs took 101-109 s one sequence per decode,
// 58-61 s with --pack 512 and 43 s with --pack 2048 (peak RSS 585 / 847 / 2435 MB); the 256-token documents were not
// conclusive (noise larger than the effect). Pass --pack (side-by-side --pack N) to choose otherwise.
#include "llama.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using Clock = std::chrono::steady_clock;

static double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

static double peak_rss_mb() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmHWM:", 0) == 0) {
            return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
        }
    }
    return 0;
}

static void quiet_log(enum ggml_log_level level, const char * text, void * /*user*/) {
    if (level == GGML_LOG_LEVEL_ERROR || level == GGML_LOG_LEVEL_WARN) {
        std::fputs(text, stderr);
    }
}

struct Engine {
    llama_context * ctx = nullptr;
    llama_batch batch{};
    int n_embd_out = 0;
    int pack = 512;
    int n_ctx = 0;
    int n_seq_max = 1;

    // Embeds sequences (each a vector of ids); returns n x n_embd_out floats (output after dense_3, pooled by mean).
    std::vector<std::vector<float>> embed(const std::vector<std::vector<llama_token>> & seqs) {
        std::vector<std::vector<float>> out(seqs.size());
        size_t i = 0;
        while (i < seqs.size()) {
            // pack [i, j) into one decode
            size_t j = i;
            int tokens = 0;
            while (j < seqs.size() && (int) (j - i) < n_seq_max) {
                const int n = (int) seqs[j].size();
                if (j > i && (pack <= 0 || tokens + n > pack)) {
                    break;
                }
                tokens += n;
                j++;
            }
            if (tokens > n_ctx) {
                std::fprintf(stderr, "sequence of %d tokens exceeds the context (%d)\n", tokens, n_ctx);
                std::exit(1);
            }
            batch.n_tokens = 0;
            for (size_t s = i; s < j; s++) {
                const auto & ids = seqs[s];
                for (size_t p = 0; p < ids.size(); p++) {
                    const int k = batch.n_tokens++;
                    batch.token[k] = ids[p];
                    batch.pos[k] = (llama_pos) p;
                    batch.n_seq_id[k] = 1;
                    batch.seq_id[k][0] = (llama_seq_id) (s - i);
                    batch.logits[k] = true;
                }
            }
            const int rc = llama_decode(ctx, batch);
            if (rc != 0) {
                std::fprintf(stderr, "llama_decode returned %d\n", rc);
                std::exit(1);
            }
            for (size_t s = i; s < j; s++) {
                const float * e = llama_get_embeddings_seq(ctx, (llama_seq_id) (s - i));
                if (e == nullptr) {
                    std::fprintf(stderr, "no embedding for sequence %zu\n", s);
                    std::exit(1);
                }
                out[s].assign(e, e + n_embd_out);
            }
            i = j;
        }
        return out;
    }
};

static void json_floats(std::string & js, const std::vector<float> & v, size_t n) {
    js += "[";
    char buf[32];
    for (size_t i = 0; i < std::min(n, v.size()); i++) {
        std::snprintf(buf, sizeof buf, "%s%.9g", i ? "," : "", (double) v[i]);
        js += buf;
    }
    js += "]";
}

int main(int argc, char ** argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: %s <model.gguf> <threads> <workloads> <ids.txt> [--pack N] [--flash-attn auto|on|off]\n", argv[0]);
        return 2;
    }
    const std::string gguf = argv[1];
    const int threads = std::atoi(argv[2]);
    const std::string which = argv[3];
    const std::string ids_path = argv[4];
    int pack = 512;
    llama_flash_attn_type fa = LLAMA_FLASH_ATTN_TYPE_AUTO;
    for (int a = 5; a + 1 < argc; a += 2) {
        if (std::strcmp(argv[a], "--pack") == 0) {
            pack = std::atoi(argv[a + 1]);
        } else if (std::strcmp(argv[a], "--flash-attn") == 0) {
            const std::string v = argv[a + 1];
            fa = v == "on" ? LLAMA_FLASH_ATTN_TYPE_ENABLED : v == "off" ? LLAMA_FLASH_ATTN_TYPE_DISABLED : LLAMA_FLASH_ATTN_TYPE_AUTO;
        } else {
            std::fprintf(stderr, "unknown option %s\n", argv[a]);
            return 2;
        }
    }

    // token ids written by the orchestrator
    std::vector<std::vector<llama_token>> docs, batch_seqs;
    std::vector<llama_token> query, long_doc;
    int query_runs = 30;
    {
        std::ifstream f(ids_path);
        if (!f) {
            std::fprintf(stderr, "cannot read %s\n", ids_path.c_str());
            return 2;
        }
        std::string line;
        while (std::getline(f, line)) {
            std::istringstream in(line);
            std::string section;
            in >> section;
            if (section == "query_runs") {
                in >> query_runs;
                continue;
            }
            std::vector<llama_token> ids;
            long v;
            while (in >> v) {
                ids.push_back((llama_token) v);
            }
            if (section == "docs") docs.push_back(ids);
            else if (section == "query") query = ids;
            else if (section == "long") long_doc = ids;
            else if (section == "batch") batch_seqs.push_back(ids);
        }
    }

    llama_log_set(quiet_log, nullptr);
    const auto t0 = Clock::now();
    llama_backend_init();
    auto mparams = llama_model_default_params();
    mparams.n_gpu_layers = 0;
    llama_model * model = llama_model_load_from_file(gguf.c_str(), mparams);
    if (model == nullptr) {
        std::fprintf(stderr, "cannot load %s\n", gguf.c_str());
        return 1;
    }
    // one context for every workload: large enough for the 2048-token document (non-causal: n_ubatch = n_batch)
    int longest = 0;
    for (const auto & d : docs) longest = std::max(longest, (int) d.size());
    for (const auto & d : batch_seqs) longest = std::max(longest, (int) d.size());
    longest = std::max(longest, (int) query.size());
    if (which.find("long") != std::string::npos) longest = std::max(longest, (int) long_doc.size());
    const int n_ctx = std::max(longest, pack);
    auto cparams = llama_context_default_params();
    cparams.n_ctx = (uint32_t) n_ctx;
    cparams.n_batch = (uint32_t) n_ctx;
    cparams.n_ubatch = (uint32_t) n_ctx;
    cparams.n_seq_max = pack > 0 ? (uint32_t) llama_max_parallel_sequences() : 1;
    cparams.n_threads = threads;
    cparams.n_threads_batch = threads;
    cparams.embeddings = true;
    cparams.pooling_type = LLAMA_POOLING_TYPE_MEAN;
    cparams.flash_attn_type = fa;
    cparams.no_perf = true;
    llama_context * ctx = llama_init_from_model(model, cparams);
    if (ctx == nullptr) {
        std::fprintf(stderr, "cannot create a context\n");
        return 1;
    }
    Engine eng;
    eng.ctx = ctx;
    eng.batch = llama_batch_init(n_ctx, 0, 1);
    eng.n_embd_out = llama_model_n_embd_out(model);
    eng.pack = pack;
    eng.n_ctx = n_ctx;
    eng.n_seq_max = (int) cparams.n_seq_max;
    const double load_s = seconds_since(t0);

    char buf[256];
    std::string js = "{\"engine\":\"llama.cpp native";
    std::snprintf(buf, sizeof buf, " (node-llama-cpp 3.22.1 source, -march=native, %s)\"", pack > 0 ? ("pack " + std::to_string(pack)).c_str() : "one sequence per decode");
    js += buf;
    std::snprintf(buf, sizeof buf, ",\"load_s\":%.6f", load_s);
    js += buf;

    if (which.find("docs") != std::string::npos && !docs.empty()) {
        eng.embed({docs[0]});   // warm-up
        const auto t = Clock::now();
        const auto vecs = eng.embed(docs);
        size_t tokens = 0;
        for (const auto & d : docs) tokens += d.size();
        std::snprintf(buf, sizeof buf, ",\"docs_tokens_per_s\":%.6f,\"doc0_head\":", tokens / seconds_since(t));
        js += buf;
        json_floats(js, vecs[0], 8);
        js += ",\"docs_vectors\":[";
        for (size_t i = 0; i < std::min<size_t>(4, vecs.size()); i++) {
            if (i) js += ",";
            json_floats(js, vecs[i], vecs[i].size());
        }
        js += "]";
    }
    if (which.find("query") != std::string::npos && !query.empty()) {
        eng.embed({query});
        std::vector<double> times;
        for (int i = 0; i < query_runs; i++) {
            const auto t = Clock::now();
            eng.embed({query});
            times.push_back(seconds_since(t) * 1000);
        }
        std::sort(times.begin(), times.end());
        std::snprintf(buf, sizeof buf, ",\"query_median_ms\":%.6f", times[times.size() / 2]);
        js += buf;
    }
    if (which.find("long") != std::string::npos && !long_doc.empty()) {
        const auto t = Clock::now();
        eng.embed({long_doc});
        std::snprintf(buf, sizeof buf, ",\"long_s\":%.6f", seconds_since(t));
        js += buf;
    }
    if (which.find("batch") != std::string::npos && !batch_seqs.empty()) {
        const auto t = Clock::now();
        eng.embed(batch_seqs);
        std::snprintf(buf, sizeof buf, ",\"batch_s\":%.6f", seconds_since(t));
        js += buf;
    }
    std::snprintf(buf, sizeof buf, ",\"peak_rss_mb\":%.3f}", peak_rss_mb());
    js += buf;
    std::puts(js.c_str());
    std::fflush(stdout);

    llama_batch_free(eng.batch);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
