//! Changing the element type. The gradient flows back through the cast, converted to the
//! input's type.

use anglegrad_engine::{BackwardRule, DType, Error, Result, Tensor};

/// The same values in another dtype (f32 <-> f64).
pub fn to_dtype(x: &Tensor, dtype: DType) -> Result<Tensor> {
    if x.dtype() == dtype {
        return Ok(x.clone());
    }
    let values = x.to_vec_f64();
    let y = match dtype {
        DType::F32 | DType::F64 => Tensor::from_f64s(&values, x.shape().clone(), dtype)?,
        other => {
            return Err(Error::UnsupportedDType {
                op: "to_dtype",
                dtype: other,
            })
        }
    };
    y.record(&[x], CastRule { back_to: x.dtype() })
}

struct CastRule {
    back_to: DType,
}

impl BackwardRule for CastRule {
    fn name(&self) -> &'static str {
        "to_dtype"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(to_dtype(g, self.back_to)?)])
    }
}
