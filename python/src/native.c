/* vidsparse._native: the CPython binding of the public C API (vidsparse.h),
 * nothing else. The Python package (python/vidsparse) wraps it in the API
 * users see; this file only moves values across and keeps the rules of the
 * C API: requests and params start from the library's defaults and set
 * fields by name (so fields appended to the C structs keep their defaults),
 * every long call runs with the GIL released, and every failure raises
 * vidsparse.Error with the library's message (vs_last_error). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "vidsparse.h"

static PyObject *error_type;     /* vidsparse.Error(RuntimeError), given by the package (set_error_types) */
static PyObject *cancelled_type; /* vidsparse.Cancelled(Error) */

/* Raises the package's error for `status` with the library's message. */
static PyObject *raise_status(vs_status status) {
    PyObject *type = status == VS_ERR_CANCELLED && cancelled_type ? cancelled_type
                     : error_type                                 ? error_type
                                                                  : PyExc_RuntimeError;
    const char *message = vs_last_error();
    PyObject *err = PyObject_CallFunction(type, "ss", message && *message ? message : vs_status_name(status),
                                          vs_status_name(status));
    if (err) {
        PyErr_SetObject(type, err);
        Py_DECREF(err);
    }
    return NULL;
}

static PyObject *set_error_types(PyObject *self, PyObject *args) {
    PyObject *error, *cancelled;
    if (!PyArg_ParseTuple(args, "OO", &error, &cancelled)) return NULL;
    Py_XSETREF(error_type, Py_NewRef(error));
    Py_XSETREF(cancelled_type, Py_NewRef(cancelled));
    Py_RETURN_NONE;
}

/* ---- Video: a generated vs_video, exported through the buffer protocol as u8 [F, H, W, 3] ---- */

typedef struct {
    PyObject_HEAD vs_video *video;
    Py_ssize_t shape[4], strides[4];
} VideoObject;

static void video_dealloc(VideoObject *self) {
    vs_video_free(self->video);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int video_getbuffer(VideoObject *self, Py_buffer *view, int flags) {
    const vs_video *v = self->video;
    self->shape[0] = v->frames, self->shape[1] = v->height, self->shape[2] = v->width, self->shape[3] = 3;
    self->strides[3] = 1, self->strides[2] = 3, self->strides[1] = 3 * (Py_ssize_t)v->width;
    self->strides[0] = self->strides[1] * v->height;
    if (PyBuffer_FillInfo(view, (PyObject *)self, v->rgb, self->strides[0] * v->frames, 0, flags) < 0)
        return -1;
    if (flags & PyBUF_ND) view->ndim = 4, view->shape = self->shape;
    if ((flags & PyBUF_STRIDES) == PyBUF_STRIDES) view->strides = self->strides;
    return 0;
}

static PyObject *video_get_fps(VideoObject *self, void *closure) {
    return PyLong_FromLong(self->video->fps);
}

static PyBufferProcs video_as_buffer = {(getbufferproc)video_getbuffer, NULL};
static PyGetSetDef video_getset[] = {{"fps", (getter)video_get_fps, NULL, "frames per second", NULL}, {NULL}};

static PyTypeObject VideoType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vidsparse._native.Video",
    .tp_basicsize = sizeof(VideoObject),
    .tp_dealloc = (destructor)video_dealloc,
    .tp_as_buffer = &video_as_buffer,
    .tp_getset = video_getset,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A generated video's frames, u8 [frames, height, width, 3] through the buffer protocol.",
};

/* ---- Pipeline ----------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD vs_pipeline *pipeline;
    PyObject *callback;  /* during generate: callable(step, steps) -> true to cancel, or None */
    int failed_callback; /* the callback raised (its exception is pending): generate re-raises it */
} PipelineObject;

/* vs_progress_callback: runs on the generating thread, which released the GIL. Calls the Python
 * callback, then lets Python's signal handlers run, so Ctrl-C (KeyboardInterrupt) cancels the
 * generate between two denoising steps. */
static int on_progress(void *user, int step, int steps) {
    PipelineObject *self = user;
    PyGILState_STATE gil = PyGILState_Ensure();
    int cancel = 0;
    if (self->callback && self->callback != Py_None) {
        PyObject *r = PyObject_CallFunction(self->callback, "ii", step, steps);
        if (!r)
            cancel = self->failed_callback = 1;
        else {
            cancel = PyObject_IsTrue(r) == 1;
            Py_DECREF(r);
        }
    }
    if (!cancel && PyErr_CheckSignals() < 0) cancel = self->failed_callback = 1;
    PyGILState_Release(gil);
    return cancel;
}

static void pipeline_dealloc(PipelineObject *self) {
    if (self->pipeline) {
        vs_pipeline *p = self->pipeline;
        self->pipeline = NULL;
        PyThreadState *unlocked = PyEval_SaveThread();
        vs_pipeline_free(p);
        PyEval_RestoreThread(unlocked);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Pipeline(model_dir, device, method, density, dense_steps, dense_layers): vs_pipeline_load. */
static int pipeline_init(PipelineObject *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"model_dir", "device", "method", "density", "dense_steps", "dense_layers", NULL};
    const char *model_dir = NULL, *method = NULL;
    int device = VS_PIPELINE_AUTO;
    vs_pipeline_params params = vs_pipeline_default_params();
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|zizddd", names, &model_dir, &device, &method,
                                     &params.attention.density, &params.attention.dense_steps,
                                     &params.attention.dense_layers))
        return -1;
    if (self->pipeline) {
        PyErr_SetString(PyExc_RuntimeError, "Pipeline is already loaded");
        return -1;
    }
    if (method) params.attention.method = method;
    params.device = (vs_pipeline_device)device;
    params.progress = on_progress;
    params.progress_user = self;
    vs_status s;
    PyThreadState *unlocked = PyEval_SaveThread();
    s = vs_pipeline_load(&self->pipeline, model_dir, &params);
    PyEval_RestoreThread(unlocked);
    if (s != VS_OK) {
        raise_status(s);
        return -1;
    }
    return 0;
}

static vs_pipeline *loaded(PipelineObject *self) {
    if (!self->pipeline) PyErr_SetString(PyExc_RuntimeError, "the pipeline is closed");
    return self->pipeline;
}

/* The request of generate and latent_shape's arguments, from the library's defaults. */
static int parse_request(PyObject *args, PyObject *kwargs, vs_generate_request *r, PyObject **callback,
                         PyObject **noise) {
    static char *names[] = {"prompt", "negative_prompt", "width", "height", "frames", "steps", "guidance",
                            "seed",   "callback",        "noise", "embedded_guidance", "image", NULL};
    *r = vs_generate_default_request();
    unsigned long long seed = 0;
    *callback = *noise = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|ziiiifKOOfz", names, &r->prompt, &r->negative_prompt,
                                     &r->width, &r->height, &r->frames, &r->steps, &r->guidance, &seed,
                                     callback, noise, &r->embedded_guidance, &r->image_path))
        return -1;
    r->seed = seed;
    return 0;
}

/* A vs_tensor view of a C-contiguous float32 buffer of 5 dims (the initial latents); `b` keeps it. */
static int noise_view(PyObject *noise, Py_buffer *b, vs_tensor *t) {
    if (PyObject_GetBuffer(noise, b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    if (b->itemsize != 4 || !b->format || strcmp(b->format, "f") != 0 || b->ndim != 5) {
        PyErr_Format(PyExc_ValueError,
                     "noise must be float32 [1, C, F, H, W] (latent_shape), got %d dims of format '%s'",
                     b->ndim, b->format ? b->format : "B");
        PyBuffer_Release(b);
        return -1;
    }
    int64_t shape[5];
    for (int i = 0; i < 5; i++)
        shape[i] = b->shape[i];
    *t = vs_tensor_view(b->buf, VS_F32, VS_CPU, 5, shape);
    return 0;
}

/* generate(prompt, negative_prompt, width, height, frames, steps, guidance, seed, callback, noise,
 * embedded_guidance, image) -> Video
 */
static PyObject *pipeline_generate(PipelineObject *self, PyObject *args, PyObject *kwargs) {
    vs_generate_request r;
    PyObject *callback, *noise;
    if (parse_request(args, kwargs, &r, &callback, &noise) < 0) return NULL;
    vs_pipeline *p = loaded(self);
    if (!p) return NULL;
    if (self->callback) {
        PyErr_SetString(PyExc_RuntimeError, "this pipeline is already generating (one call at a time)");
        return NULL;
    }
    Py_buffer noise_buffer = {0};
    vs_tensor noise_tensor;
    if (noise != Py_None) {
        if (noise_view(noise, &noise_buffer, &noise_tensor) < 0) return NULL;
        r.noise = &noise_tensor;
    }
    self->callback = Py_NewRef(callback);
    self->failed_callback = 0;
    vs_video *video = NULL;
    vs_status s;
    PyThreadState *unlocked = PyEval_SaveThread();
    s = vs_pipeline_generate(p, &r, &video);
    PyEval_RestoreThread(unlocked);
    Py_CLEAR(self->callback);
    if (r.noise) PyBuffer_Release(&noise_buffer);
    if (self->failed_callback) {
        vs_video_free(video);
        return NULL; /* the callback's exception, or KeyboardInterrupt */
    }
    if (s != VS_OK) return raise_status(s);
    VideoObject *out = PyObject_New(VideoObject, &VideoType);
    if (!out) {
        vs_video_free(video);
        return NULL;
    }
    out->video = video;
    return (PyObject *)out;
}

/* latent_shape(prompt, ...) -> (1, C, F, H, W): the initial latents generate's request denoises. */
static PyObject *pipeline_latent_shape(PipelineObject *self, PyObject *args, PyObject *kwargs) {
    vs_generate_request r;
    PyObject *callback, *noise;
    if (parse_request(args, kwargs, &r, &callback, &noise) < 0) return NULL;
    vs_pipeline *p = loaded(self);
    if (!p) return NULL;
    int64_t shape[5];
    const vs_status s = vs_pipeline_latent_shape(p, &r, shape);
    if (s != VS_OK) return raise_status(s);
    return Py_BuildValue("(LLLLL)", (long long)shape[0], (long long)shape[1], (long long)shape[2],
                         (long long)shape[3], (long long)shape[4]);
}

static PyObject *pipeline_cancel(PipelineObject *self, PyObject *unused) {
    vs_pipeline_cancel(self->pipeline); /* any thread; nothing when no generate runs */
    Py_RETURN_NONE;
}

static PyObject *pipeline_close(PipelineObject *self, PyObject *unused) {
    if (self->callback) {
        PyErr_SetString(PyExc_RuntimeError, "cannot close a pipeline while it generates");
        return NULL;
    }
    vs_pipeline *p = self->pipeline;
    self->pipeline = NULL;
    PyThreadState *unlocked = PyEval_SaveThread();
    vs_pipeline_free(p);
    PyEval_RestoreThread(unlocked);
    Py_RETURN_NONE;
}

static PyObject *attention_dict(const vs_attention_params *a) {
    return Py_BuildValue("{s:s,s:d,s:d,s:d}", "method", a->method ? a->method : "dense", "density",
                         a->density, "dense_steps", a->dense_steps, "dense_layers", a->dense_layers);
}

static PyObject *pipeline_info(PipelineObject *self, PyObject *unused) {
    vs_pipeline *p = loaded(self);
    if (!p) return NULL;
    const vs_pipeline_info i = vs_pipeline_get_info(p);
    return Py_BuildValue("{s:s,s:s,s:O,s:O,s:i,s:i,s:i,s:i,s:i,s:d,s:N}", "model_dir", i.model_dir, "device",
                         i.device == VS_CUDA ? "cuda" : "cpu", "pixel_space",
                         i.pixel_space ? Py_True : Py_False, "takes_image", i.takes_image ? Py_True : Py_False,
                         "frames", i.frames, "height", i.height, "width",
                         i.width, "steps", i.steps, "fps", i.fps, "guidance", (double)i.guidance, "attention",
                         attention_dict(&i.attention));
}

static PyObject *pipeline_stats(PipelineObject *self, PyObject *unused) {
    vs_pipeline *p = loaded(self);
    if (!p) return NULL;
    const vs_pipeline_stats s = vs_pipeline_get_stats(p);
    return Py_BuildValue("{s:d,s:d,s:d,s:d,s:d,s:d,s:L,s:L}", "load_s", s.load_s, "text_s", s.text_s,
                         "denoise_s", s.denoise_s, "decode_s", s.decode_s, "dit_s", s.dit_s, "attention_s",
                         s.attention_s, "heads_spatial", (long long)s.heads_spatial, "heads_temporal",
                         (long long)s.heads_temporal);
}

static PyMethodDef pipeline_methods[] = {
    {"generate", (PyCFunction)(void (*)(void))pipeline_generate, METH_VARARGS | METH_KEYWORDS,
     "generate(prompt, negative_prompt, width, height, frames, steps, guidance, seed, callback, noise) -> "
     "Video"},
    {"latent_shape", (PyCFunction)(void (*)(void))pipeline_latent_shape, METH_VARARGS | METH_KEYWORDS,
     "latent_shape(prompt, negative_prompt, width, height, frames, steps, ...) -> (1, C, F, H, W)"},
    {"cancel", (PyCFunction)pipeline_cancel, METH_NOARGS, "Stops the running generate before its next step."},
    {"close", (PyCFunction)pipeline_close, METH_NOARGS, "Frees the pipeline's weights and buffers."},
    {"info", (PyCFunction)pipeline_info, METH_NOARGS, "vs_pipeline_get_info as a dict."},
    {"stats", (PyCFunction)pipeline_stats, METH_NOARGS, "vs_pipeline_get_stats as a dict."},
    {NULL}};

static PyTypeObject PipelineType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vidsparse._native.Pipeline",
    .tp_basicsize = sizeof(PipelineObject),
    .tp_dealloc = (destructor)pipeline_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Pipeline(model_dir, device, method, density, dense_steps, dense_layers): vs_pipeline_load.",
    .tp_methods = pipeline_methods,
    .tp_init = (initproc)pipeline_init,
    .tp_new = PyType_GenericNew,
};

/* save_video(frames, path, fps): vs_video_save on a C-contiguous u8 [F, H, W, 3] buffer. */
static PyObject *save_video(PyObject *self, PyObject *args) {
    PyObject *frames;
    const char *path;
    int fps;
    if (!PyArg_ParseTuple(args, "Osi", &frames, &path, &fps)) return NULL;
    Py_buffer b;
    if (PyObject_GetBuffer(frames, &b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return NULL;
    const int u8 = b.itemsize == 1 && (!b.format || !strcmp(b.format, "B"));
    if (!u8 || b.ndim != 4 || b.shape[3] != 3 || b.shape[0] > INT32_MAX || b.shape[1] > INT32_MAX ||
        b.shape[2] > INT32_MAX) {
        PyErr_Format(PyExc_ValueError,
                     "save_video: frames must be uint8 [frames, height, width, 3], got %d dims "
                     "of format '%s'",
                     b.ndim, b.format ? b.format : "B");
        PyBuffer_Release(&b);
        return NULL;
    }
    vs_video v = {(int)b.shape[0], (int)b.shape[1], (int)b.shape[2], fps, b.buf};
    vs_status s;
    PyThreadState *unlocked = PyEval_SaveThread();
    s = vs_video_save(&v, path, fps);
    PyEval_RestoreThread(unlocked);
    PyBuffer_Release(&b);
    if (s != VS_OK) return raise_status(s);
    Py_RETURN_NONE;
}

/* ---- Attention: vs_attention_create_layers / vs_attention_run_layer on raw tensors ----------- */

typedef struct {
    PyObject_HEAD vs_attention *attention;
    vs_device device;
} AttentionObject;

static void attention_dealloc(AttentionObject *self) {
    vs_attention_free(self->attention);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Attention(cuda, batch, heads, seq_len, head_dim, num_layers, method, density, dense_steps, dense_layers,
 *           frames, tokens_per_frame, text_tokens) */
static int attention_init(AttentionObject *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {
        "cuda",    "batch",       "heads",        "seq_len", "head_dim",         "num_layers",  "method",
        "density", "dense_steps", "dense_layers", "frames",  "tokens_per_frame", "text_tokens", NULL};
    int cuda, batch, heads, seq_len, head_dim, num_layers, frames = 0, tokens_per_frame = 0, text_tokens = 0;
    vs_attention_params params = vs_attention_default_params();
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "piiiiizddd|iii", names, &cuda, &batch, &heads, &seq_len,
                                     &head_dim, &num_layers, &params.method, &params.density,
                                     &params.dense_steps, &params.dense_layers, &frames, &tokens_per_frame,
                                     &text_tokens))
        return -1;
    if (self->attention) {
        PyErr_SetString(PyExc_RuntimeError, "Attention is already created");
        return -1;
    }
    const vs_svg_config svg = vs_svg_config_default(frames, tokens_per_frame, text_tokens, params.density);
    self->device = cuda ? VS_CUDA : VS_CPU;
    vs_status s;
    PyThreadState *unlocked = PyEval_SaveThread();
    s = vs_attention_create_layers(&self->attention, self->device, batch, heads, seq_len, head_dim,
                                   num_layers, &params, frames ? &svg : NULL);
    PyEval_RestoreThread(unlocked);
    if (s != VS_OK) {
        raise_status(s);
        return -1;
    }
    return 0;
}

/* A tensor description from Python: (data pointer, dtype name, shape tuple, stride tuple in elements). */
static int parse_tensor(PyObject *o, vs_device device, vs_tensor *t) {
    PyObject *shape, *stride;
    unsigned long long data;
    const char *dtype;
    if (!PyArg_ParseTuple(o, "KsO!O!", &data, &dtype, &PyTuple_Type, &shape, &PyTuple_Type, &stride))
        return -1;
    memset(t, 0, sizeof *t);
    if (!strcmp(dtype, "float32"))
        t->dtype = VS_F32;
    else if (!strcmp(dtype, "bfloat16"))
        t->dtype = VS_BF16;
    else if (!strcmp(dtype, "float16"))
        t->dtype = VS_F16;
    else {
        PyErr_Format(PyExc_TypeError, "attention tensors are float32, bfloat16 or float16, got %s", dtype);
        return -1;
    }
    const Py_ssize_t n = PyTuple_GET_SIZE(shape);
    if (n < 1 || n > VS_MAX_DIMS || PyTuple_GET_SIZE(stride) != n) {
        PyErr_Format(PyExc_ValueError, "attention tensors have 1..%d dims and a stride per dim", VS_MAX_DIMS);
        return -1;
    }
    t->device = device, t->ndim = (int)n, t->data = (void *)(uintptr_t)data;
    for (Py_ssize_t i = 0; i < n; i++) {
        t->shape[i] = PyLong_AsLongLong(PyTuple_GET_ITEM(shape, i));
        t->stride[i] = PyLong_AsLongLong(PyTuple_GET_ITEM(stride, i));
    }
    return PyErr_Occurred() ? -1 : 0;
}

/* run(layer, step, num_steps, q, k, v, out, stream): out = attention(q, k, v), [B, N, H, D] each. */
static PyObject *attention_run(AttentionObject *self, PyObject *args) {
    int layer, step, num_steps;
    PyObject *qo, *ko, *vo, *oo;
    unsigned long long stream;
    if (!PyArg_ParseTuple(args, "iiiO!O!O!O!K", &layer, &step, &num_steps, &PyTuple_Type, &qo, &PyTuple_Type,
                          &ko, &PyTuple_Type, &vo, &PyTuple_Type, &oo, &stream))
        return NULL;
    vs_tensor q, k, v, out;
    if (parse_tensor(qo, self->device, &q) || parse_tensor(ko, self->device, &k) ||
        parse_tensor(vo, self->device, &v) || parse_tensor(oo, self->device, &out))
        return NULL;
    vs_status s;
    PyThreadState *unlocked = PyEval_SaveThread();
    s = vs_attention_run_layer(self->attention, layer, step, num_steps, &q, &k, &v, &out,
                               (void *)(uintptr_t)stream);
    PyEval_RestoreThread(unlocked);
    if (s != VS_OK) return raise_status(s);
    Py_RETURN_NONE;
}

/* take_head_counts() -> (spatial, temporal) since the last call; waits for the queued work. */
static PyObject *attention_take_head_counts(AttentionObject *self, PyObject *unused) {
    int64_t spatial = 0, temporal = 0;
    vs_status s;
    PyThreadState *unlocked = PyEval_SaveThread();
    s = vs_attention_take_head_counts(self->attention, &spatial, &temporal);
    PyEval_RestoreThread(unlocked);
    if (s != VS_OK) return raise_status(s);
    return Py_BuildValue("LL", (long long)spatial, (long long)temporal);
}

static PyObject *attention_density(AttentionObject *self, PyObject *unused) {
    return PyFloat_FromDouble(vs_attention_density(self->attention));
}

static PyMethodDef attention_methods[] = {
    {"run", (PyCFunction)attention_run, METH_VARARGS,
     "run(layer, step, num_steps, q, k, v, out, stream): vs_attention_run_layer"},
    {"take_head_counts", (PyCFunction)attention_take_head_counts, METH_NOARGS,
     "(spatial, temporal) heads since the last call"},
    {"density", (PyCFunction)attention_density, METH_NOARGS, "kept fraction of the attention map"},
    {NULL}};

static PyTypeObject AttentionType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vidsparse._native.Attention",
    .tp_basicsize = sizeof(AttentionObject),
    .tp_dealloc = (destructor)attention_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A model's self-attention under a sparse method: vs_attention_create_layers.",
    .tp_methods = attention_methods,
    .tp_init = (initproc)attention_init,
    .tp_new = PyType_GenericNew,
};

/* ---- the module ----------------------------------------------------------------------------- */

static PyObject *version(PyObject *self, PyObject *unused) {
    return PyUnicode_FromString(vs_version());
}
static PyObject *cuda_device_count(PyObject *self, PyObject *unused) {
    return PyLong_FromLong(vs_cuda_device_count());
}
static PyObject *attention_method_names(PyObject *self, PyObject *unused) {
    PyObject *names = PyList_New(0);
    for (int i = 0; names && vs_attention_method_name(i); i++) {
        PyObject *name = PyUnicode_FromString(vs_attention_method_name(i));
        if (!name || PyList_Append(names, name) < 0) Py_CLEAR(names);
        Py_XDECREF(name);
    }
    return names;
}

static PyMethodDef module_methods[] = {
    {"version", version, METH_NOARGS, "The library's version."},
    {"cuda_device_count", cuda_device_count, METH_NOARGS,
     "CUDA devices this build can use (0 without CUDA)."},
    {"attention_methods", attention_method_names, METH_NOARGS, "The registered attention methods."},
    {"save_video", save_video, METH_VARARGS, "save_video(frames, path, fps): vs_video_save."},
    {"set_error_types", set_error_types, METH_VARARGS, "The exception types failures raise."},
    {NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "vidsparse._native",
    .m_doc = "The public C API of vidsparse (vidsparse.h) for the vidsparse package.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    if (PyType_Ready(&VideoType) < 0 || PyType_Ready(&PipelineType) < 0 || PyType_Ready(&AttentionType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Video", (PyObject *)&VideoType) < 0 ||
        PyModule_AddObjectRef(m, "Pipeline", (PyObject *)&PipelineType) < 0 ||
        PyModule_AddObjectRef(m, "Attention", (PyObject *)&AttentionType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
