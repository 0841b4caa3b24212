/** A picture's size in pixels, as a codec's keyframe or parameter set states it. */
export interface PictureSize {
  width: number;
  height: number;
}
