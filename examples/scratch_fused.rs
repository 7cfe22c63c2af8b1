use anglegrad::prelude::*;
use anglegrad::losses::arcface::arcface_default;
use std::time::Instant;
fn main() -> Result<()> {
    let (b, d, c) = (256, 512, 100_000);
    let mut rng = Rng::new(0);
    let x0 = Tensor::randn([b, d], 0.0, 1.0, DType::F32, &mut rng)?;
    let w0 = Tensor::randn([c, d], 0.0, 0.01, DType::F32, &mut rng)?;
    let labels: Vec<usize> = (0..b).map(|i| (i * 7919) % c).collect();
    let fused = std::env::args().nth(1).map(|a| a.parse::<usize>().unwrap());
    let head = match fused { Some(ch) => arcface_default().fused(ch), None => arcface_default() };
    for _ in 0..3 {
        let t = Instant::now();
        let tape = Tape::new();
        let (x, w) = (tape.watch(&x0), tape.watch(&w0));
        let loss = head.loss("arcface", &x, &w, &labels)?;
        let t1 = t.elapsed();
        let g = tape.backward(&loss)?;
        let _ = g.wrt(&w0)?;
        println!("fwd {:.3}s total {:.3}s loss {}", t1.as_secs_f64(), t.elapsed().as_secs_f64(), loss.to_scalar_f64()?);
    }
    Ok(())
}
