#if !canImport(Accelerate)
import COpenBLAS
#endif

/// The engine's use of BLAS (OpenBLAS on Linux, Accelerate on macOS), set up once per process.
enum BLAS {
    /// Makes OpenBLAS compute on the calling thread only, once, before the first product.
    ///
    /// The engine already spreads a large frame's rows over the cores (``ONNXModel/score(_:cores:)``)
    /// and a server scores many calls at once; OpenBLAS's own thread pool on top would put two
    /// threads on each core and make every product wait for the pool's hand-offs. Process-wide: a
    /// host that uses OpenBLAS itself and wants its threads can set them again after loading a model.
    static let configure: Void = {
        #if !canImport(Accelerate)
        openblas_set_num_threads(1)
        #endif
    }()
}
