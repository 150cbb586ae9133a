//! Where people live, roughly: the 47 prefectures with their 2020 census population (thousands,
//! rounded) and the coordinates of their prefectural office. Synthetic entries are drawn around
//! these points — most in a dense core, the rest spread over about 40 km — so the benchmark's
//! density looks like Japan's: Tokyo and Osaka crowded, rural prefectures sparse. It is a model
//! for load, not a map; no entry it makes is real.

/// (prefecture, population in thousands, latitude, longitude of the prefectural office).
pub const PREFECTURES: [(&str, u32, f64, f64); 47] = [
    ("北海道", 5225, 43.064, 141.347),
    ("青森県", 1238, 40.824, 140.740),
    ("岩手県", 1211, 39.704, 141.153),
    ("宮城県", 2302, 38.269, 140.872),
    ("秋田県", 960, 39.719, 140.102),
    ("山形県", 1068, 38.240, 140.363),
    ("福島県", 1833, 37.750, 140.468),
    ("茨城県", 2867, 36.342, 140.447),
    ("栃木県", 1933, 36.566, 139.884),
    ("群馬県", 1939, 36.391, 139.060),
    ("埼玉県", 7345, 35.857, 139.649),
    ("千葉県", 6284, 35.605, 140.123),
    ("東京都", 14048, 35.690, 139.692),
    ("神奈川県", 9237, 35.448, 139.643),
    ("新潟県", 2201, 37.902, 139.023),
    ("富山県", 1035, 36.695, 137.211),
    ("石川県", 1133, 36.594, 136.626),
    ("福井県", 767, 36.065, 136.222),
    ("山梨県", 810, 35.664, 138.568),
    ("長野県", 2048, 36.651, 138.181),
    ("岐阜県", 1979, 35.391, 136.722),
    ("静岡県", 3633, 34.977, 138.383),
    ("愛知県", 7542, 35.180, 136.907),
    ("三重県", 1770, 34.730, 136.509),
    ("滋賀県", 1414, 35.004, 135.869),
    ("京都府", 2578, 35.021, 135.756),
    ("大阪府", 8838, 34.686, 135.520),
    ("兵庫県", 5465, 34.691, 135.183),
    ("奈良県", 1324, 34.685, 135.833),
    ("和歌山県", 923, 34.226, 135.168),
    ("鳥取県", 553, 35.504, 134.238),
    ("島根県", 671, 35.472, 133.051),
    ("岡山県", 1888, 34.662, 133.935),
    ("広島県", 2800, 34.396, 132.459),
    ("山口県", 1342, 34.186, 131.471),
    ("徳島県", 720, 34.066, 134.559),
    ("香川県", 950, 34.340, 134.043),
    ("愛媛県", 1335, 33.842, 132.766),
    ("高知県", 692, 33.560, 133.531),
    ("福岡県", 5135, 33.607, 130.418),
    ("佐賀県", 811, 33.249, 130.299),
    ("長崎県", 1312, 32.745, 129.874),
    ("熊本県", 1738, 32.790, 130.742),
    ("大分県", 1124, 33.238, 131.613),
    ("宮崎県", 1070, 31.911, 131.424),
    ("鹿児島県", 1588, 31.560, 130.558),
    ("沖縄県", 1467, 26.212, 127.681),
];

/// Draws points: a prefecture by population, then a point around its office.
pub struct Sampler {
    cumulative: Vec<u32>,
    total: u32,
}

impl Default for Sampler {
    fn default() -> Self {
        let mut cumulative = Vec::with_capacity(PREFECTURES.len());
        let mut total = 0;
        for (_, population, ..) in PREFECTURES {
            total += population;
            cumulative.push(total);
        }
        Self { cumulative, total }
    }
}

impl Sampler {
    /// A point (prefecture index, lat, lng).
    pub fn point(&self, rng: &mut impl rand::Rng) -> (usize, f64, f64) {
        let pick = rng.gen_range(0..self.total);
        let p = self.cumulative.partition_point(|c| *c <= pick);
        let (_, _, lat, lng) = PREFECTURES[p];
        // 65 % in a dense core (σ ≈ 6 km), the rest spread (σ ≈ 30 km).
        let sigma_km = if rng.gen_bool(0.65) { 6.0 } else { 30.0 };
        let (a, b) = gaussian_pair(rng);
        let dlat = a * sigma_km / 111.0;
        let dlng = b * sigma_km / (111.0 * lat.to_radians().cos());
        (p, lat + dlat, lng + dlng)
    }
}

/// Two independent standard normal numbers (Box–Muller).
fn gaussian_pair(rng: &mut impl rand::Rng) -> (f64, f64) {
    let u: f64 = rng.gen_range(f64::EPSILON..1.0);
    let v: f64 = rng.gen_range(0.0..1.0);
    let r = (-2.0 * u.ln()).sqrt();
    let t = std::f64::consts::TAU * v;
    (r * t.cos(), r * t.sin())
}
